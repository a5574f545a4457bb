// Package images is the single place where every image a lab needs is
// pinned: its upstream reference (pulled on a machine with a registry) and
// the forge recipe inputs used to build it offline (lab/images/forge).
package images

// Pinned versions. Change them here only; TestVersionsAgreeWithKind and
// TestVersionsAgreeWithKubeadm check them against kind and kubeadm.
const (
	// KindVersion is the kind Go library the lab is built on (go.mod pins it too).
	KindVersion = "v0.33.0"
	// KubernetesVersion is what the forge builds from k8s.io/kubernetes.
	KubernetesVersion = "v1.37.1"
	// StagingVersion is the published k8s.io/* staging module version that
	// matches KubernetesVersion.
	StagingVersion = "v0.37.1"
	// EtcdVersion is the etcd server release kubeadm v1.37 expects.
	EtcdVersion = "v3.7.0"
	// EtcdImageTag is the tag kubeadm asks for (registry.k8s.io/etcd:<tag>).
	EtcdImageTag = "3.7.0-0"
	// CoreDNSVersion is kubeadm v1.37's CoreDNS.
	CoreDNSVersion = "v1.14.6"
	// PauseVersion is kubeadm v1.37's sandbox image tag.
	PauseVersion = "3.10.2"
	// FlannelVersion is the pod network used by forge labs (kindnetd is not
	// available from the Go module proxy).
	FlannelVersion = "v0.28.10"
	// FlannelCNIPluginVersion is the containernetworking/plugins release that
	// still has plugins/meta/flannel.
	FlannelCNIPluginVersion = "v0.9.1"
	// FlannelCNIPluginImageTag is the upstream tag of the flannel CNI plugin image.
	FlannelCNIPluginImageTag = "v1.9.1-flannel3"
	// LocalPathProvisionerVersion backs kind's default StorageClass.
	LocalPathProvisionerVersion = "v0.0.30"
	// CRIAPIVersion and GRPCVersion build the small crictl stand-in.
	CRIAPIVersion = StagingVersion
	GRPCVersion   = "v1.85.0"
	// DebianSuite is the node OS of forge node images.
	DebianSuite = "bookworm"
)

// Upstream node images.
const (
	// UpstreamKubernetesVersion is the Kubernetes release in
	// UpstreamNodeImage. It is not KubernetesVersion: kind v0.33.0 names
	// v1.37.0 as its default, the only node image pinned by digest that
	// can be checked here (no registry), while the forge builds the newest
	// patch release that downloads from the module proxy (v1.37.1). Online
	// and offline labs therefore run different patch releases; a profile's
	// nodeImage picks another.
	UpstreamKubernetesVersion = "v1.37.0"
	// UpstreamNodeImage is kind v0.33's default node image.
	UpstreamNodeImage = "kindest/node:" + UpstreamKubernetesVersion + "@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
	// ForgeNodeImage is the node image the forge builds into the local engine.
	ForgeNodeImage = "nodelab.local/kind-node:" + KubernetesVersion
	// ForgeBaseImage is the forge's kind base image (Debian + systemd + containerd).
	ForgeBaseImage = "nodelab.local/kind-base:" + DebianSuite
)

// Component images a kind node runs. kubeadm and kind's manifests ask for
// these exact references, so the forge builds them under the same names and
// preloads them into the node image.
const (
	KubeAPIServerImage         = "registry.k8s.io/kube-apiserver:" + KubernetesVersion
	KubeControllerManagerImage = "registry.k8s.io/kube-controller-manager:" + KubernetesVersion
	KubeSchedulerImage         = "registry.k8s.io/kube-scheduler:" + KubernetesVersion
	KubeProxyImage             = "registry.k8s.io/kube-proxy:" + KubernetesVersion
	EtcdImage                  = "registry.k8s.io/etcd:" + EtcdImageTag
	CoreDNSImage               = "registry.k8s.io/coredns/coredns:" + CoreDNSVersion
	PauseImage                 = "registry.k8s.io/pause:" + PauseVersion
	FlannelImage               = "ghcr.io/flannel-io/flannel:" + FlannelVersion
	FlannelCNIPluginImage      = "ghcr.io/flannel-io/flannel-cni-plugin:" + FlannelCNIPluginImageTag
	// LocalPathProvisionerImage and LocalPathHelperImage are the names in kind
	// v0.33's default-storage manifest.
	LocalPathProvisionerImage = "docker.io/kindest/local-path-provisioner:v20260820-69b56db7"
	LocalPathHelperImage      = "docker.io/kindest/local-path-helper:v20260131-7181c60a"
)

// Source says where a lab's images come from.
type Source string

const (
	// SourceAuto uses forge images when they are present or when upstream
	// images cannot be pulled, building what is missing.
	SourceAuto Source = "auto"
	// SourceUpstream pulls kind's and the addons' published images.
	SourceUpstream Source = "upstream"
	// SourceForge builds every image locally from Go modules and Debian packages.
	SourceForge Source = "forge"
)

// Sources lists the valid image sources.
var Sources = []Source{SourceAuto, SourceUpstream, SourceForge}

// Image is one image a lab needs.
type Image struct {
	// Name says what the image is for ("kube-apiserver", "node").
	Name string
	// Upstream is the reference pulled on a machine with a registry.
	Upstream string
	// Forge is the reference the offline forge builds into the local engine.
	Forge string
	// Preloaded images live inside the node image (both kind's and the forge's).
	Preloaded bool
}

// NodeComponents are the images preloaded into a node image.
func NodeComponents() []Image {
	pre := func(name, ref string) Image { return Image{Name: name, Upstream: ref, Forge: ref, Preloaded: true} }
	return []Image{
		pre("kube-apiserver", KubeAPIServerImage),
		pre("kube-controller-manager", KubeControllerManagerImage),
		pre("kube-scheduler", KubeSchedulerImage),
		pre("kube-proxy", KubeProxyImage),
		pre("etcd", EtcdImage),
		pre("coredns", CoreDNSImage),
		pre("pause", PauseImage),
		pre("flannel", FlannelImage),
		pre("flannel-cni-plugin", FlannelCNIPluginImage),
		pre("local-path-provisioner", LocalPathProvisionerImage),
		pre("local-path-helper", LocalPathHelperImage),
	}
}

// Workload images are what scenarios run in pods. The forge builds them into
// the local engine and nodelab loads them into the nodes of a forge lab;
// upstream labs pull them.
const (
	// AgnhostVersion is k8s.io/kubernetes v1.37.1's test/images/agnhost/VERSION.
	AgnhostVersion = "2.66.1"
	// AgnhostImage is the Kubernetes e2e test image; the forge builds it from
	// the same k8s.io/kubernetes module as the cluster.
	AgnhostImage = "registry.k8s.io/e2e-test-images/agnhost:" + AgnhostVersion
)

// Workloads are the workload images every lab gets.
func Workloads() []Image {
	return []Image{{Name: "agnhost", Upstream: AgnhostImage, Forge: AgnhostImage}}
}

// ForSource lists every image a lab with the given image source needs: the
// node image, what is preloaded in it, and the workload images.
func ForSource(src Source) []Image {
	node := Image{Name: "node", Upstream: UpstreamNodeImage, Forge: ForgeNodeImage}
	out := []Image{node}
	out = append(out, NodeComponents()...)
	return append(out, Workloads()...)
}
