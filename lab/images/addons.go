package images

import "strings"

// Addon images: what the lab's addons and scenario workloads run besides
// the node components. Upstream references are pulled on a machine with a
// registry; Forge references are built locally by the offline forge
// (lab/images/forge) under nodelab.local names, because they are built from
// different inputs (Debian packages, pinned Go modules) than the upstream
// images and must not pass for them.
const (
	// RedisDebianVersion is bookworm's redis-server in the suite's main
	// archive (the forge's apt sources; security updates are not used), what
	// the forge redis image is made of and checks; RedisUpstreamImage is the
	// same release.
	RedisDebianVersion = "5:7.0.15-1~deb12u7"
	RedisUpstreamImage = "docker.io/library/redis:7.0.15"
	RedisForgeImage    = "nodelab.local/redis:7.0.15-bookworm"

	// NginxDebianVersion is bookworm's nginx in the suite's main archive,
	// what the forge nginx image is made of and checks; NginxUpstreamImage
	// is the same release (its binary is /usr/sbin/nginx too, and the
	// scenario's configuration needs nothing else).
	NginxDebianVersion = "1.22.1-9+deb12u9"
	NginxUpstreamImage = "docker.io/library/nginx:1.22.1"
	NginxForgeImage    = "nodelab.local/nginx:1.22.1-bookworm"

	// ChaosMeshModuleVersion is the chaos-mesh Go module the forge builds
	// from and whose Helm chart is installed (release-2.8 after v2.8.4; see
	// ../shared/notes/chaos-mesh-offline.md §0: tagged releases do not
	// download). ChaosMeshAPIVersion is the api module go.mod pins.
	ChaosMeshModuleVersion = "v0.9.1-0.20260902003049-47411975a8cb"
	ChaosMeshAPIVersion    = "v0.0.0-20260906172039-d70b66ad97ac"
	// ChaosMeshVersion is the release the chart's appVersion names.
	ChaosMeshVersion = "v2.8.4"

	ChaosMeshControllerUpstreamImage = "ghcr.io/chaos-mesh/chaos-mesh:" + ChaosMeshVersion
	ChaosMeshDaemonUpstreamImage     = "ghcr.io/chaos-mesh/chaos-daemon:" + ChaosMeshVersion
	ChaosMeshControllerForgeImage    = "nodelab.local/chaos-mesh:v2.8.4-47411975a8cb"
	ChaosMeshDaemonForgeImage        = "nodelab.local/chaos-daemon:v2.8.4-47411975a8cb"

	// MultusModule and MultusVersion are the Multus CNI release the multus
	// addon runs in thin mode (v4.2.1 and ≥ v4.2.5 do not download from the
	// module proxy here; see docs/research/multus-offline.md §1). The forge
	// image holds the thin plugin, passthru, install_multus and
	// thin_entrypoint at upstream's paths, built from this module.
	MultusModule        = "gopkg.in/k8snetworkplumbingwg/multus-cni.v4"
	MultusVersion       = "v4.2.4"
	MultusUpstreamImage = "ghcr.io/k8snetworkplumbingwg/multus-cni:" + MultusVersion
	MultusForgeImage    = "nodelab.local/multus-cni:" + MultusVersion

	// CNIPluginsModule and CNIPluginsVersion are the reference CNI plugins
	// (bridge, macvlan, host-local, static, tuning) the multus addon puts on
	// nodes that lack them: kindest/node ships only host-local, loopback,
	// ptp and portmap. Forge nodes already have Debian's plugins
	// (containernetworking-plugins 1.1.1) in /opt/cni/bin.
	CNIPluginsModule  = "github.com/containernetworking/plugins"
	CNIPluginsVersion = "v1.9.1"

	// MultiNetworkPolicyUpstreamImage is the MultiNetworkPolicy enforcer
	// (k8snetworkplumbingwg/multi-networkpolicy-iptables). It has no forge
	// build: no version of its module downloads from the module proxy here,
	// so labs without a registry cannot enforce MultiNetworkPolicy and the
	// multus-network fix spec skips there (MultiNetworkPolicyUnavailable).
	// Upstream's release workflow publishes "stable" for tagged releases.
	MultiNetworkPolicyUpstreamImage = "ghcr.io/k8snetworkplumbingwg/multi-networkpolicy-iptables:stable"

	// TraefikModule and TraefikVersion are the Traefik v3 release the
	// ingress-rollout scenario's ingress controller runs. v3.7.x does not
	// build from the module proxy here: 29 of its dependencies answer 403,
	// among them containous/go-http-auth (the basic-auth middleware, a
	// replace target) and lego v5's DNS provider SDKs; v3.6.12's all
	// download. The forge image holds the traefik binary at upstream's path.
	TraefikModule        = "github.com/traefik/traefik/v3"
	TraefikVersion       = "v3.6.12"
	TraefikUpstreamImage = "docker.io/library/traefik:" + TraefikVersion
	TraefikForgeImage    = "nodelab.local/traefik:" + TraefikVersion

	// NodeProblemDetectorModule and NodeProblemDetectorVersion are the
	// node-problem-detector release the oom-events scenario runs: its
	// kernel monitor turns the kernel's OOM kill lines into Node events
	// with reason OOMKilling (the reason the seed's log query counts; the
	// kubelet emits none for a container's OOM kill). v0.8.20 downloads
	// and builds here (no version list is served, the exact version is).
	NodeProblemDetectorModule        = "k8s.io/node-problem-detector"
	NodeProblemDetectorVersion       = "v0.8.20"
	NodeProblemDetectorUpstreamImage = "registry.k8s.io/node-problem-detector/node-problem-detector:" + NodeProblemDetectorVersion
	NodeProblemDetectorForgeImage    = LocalRegistry + "/node-problem-detector:" + NodeProblemDetectorVersion

	// NetworkPoliciesModule and NetworkPoliciesVersion are the
	// NetworkPolicy enforcer forge labs run beside flannel (which enforces
	// none). The forge build is patched to queue packets with the xt
	// NFQUEUE target: upstream's nft queue expression needs nft_queue,
	// which the workplace's kernel lacks (forge.netpolPatches).
	NetworkPoliciesModule        = "sigs.k8s.io/kube-network-policies"
	NetworkPoliciesVersion       = "v0.8.0"
	NetworkPoliciesUpstreamImage = "registry.k8s.io/networking/kube-network-policies:" + NetworkPoliciesVersion
	NetworkPoliciesForgeImage    = LocalRegistry + "/kube-network-policies:" + NetworkPoliciesVersion + "-xtnfqueue"

	// EchoForgeImage is nodelab's own HTTP backend (cmd/nodelab-echo),
	// built from this module's source tree. No registry has it, so its
	// Upstream is the same reference and every lab builds it (LocalOnly).
	EchoForgeImage = LocalRegistry + "/echo:v1"
)

// LocalRegistry is the registry part of every forge reference. An image
// whose Upstream is under it exists only where the forge built it.
const LocalRegistry = "nodelab.local"

// MultiNetworkPolicyUnavailable is the exact reason a forge-only lab cannot
// run a MultiNetworkPolicy enforcer.
const MultiNetworkPolicyUnavailable = "MultiNetworkPolicy is not enforced on this lab: its enforcer, " +
	"github.com/k8snetworkplumbingwg/multi-networkpolicy-iptables, is not in the Go module proxy here (no version downloads), " +
	"so the offline forge cannot build it; it needs a registry (" + MultiNetworkPolicyUpstreamImage + ")"

// Addon image names (Image.Name), also the forge recipe keys.
const (
	RedisImageName               = "redis"
	NginxImageName               = "nginx"
	ChaosMeshControllerImageName = "chaos-mesh"
	ChaosMeshDaemonImageName     = "chaos-daemon"
	MultusImageName              = "multus"
	TraefikImageName             = "traefik"
	EchoImageName                = "echo"
	NodeProblemDetectorImageName = "node-problem-detector"
	NetworkPoliciesImageName     = "kube-network-policies"
)

// Redis is the redis-cluster fixture's image.
func Redis() Image {
	return Image{Name: RedisImageName, Upstream: RedisUpstreamImage, Forge: RedisForgeImage}
}

// Nginx is the nginx-dns-cache scenario's reverse proxy image.
func Nginx() Image {
	return Image{Name: NginxImageName, Upstream: NginxUpstreamImage, Forge: NginxForgeImage}
}

// ChaosMesh are the images of the chaos-mesh addon (no dashboard, no DNS server).
func ChaosMesh() []Image {
	return []Image{
		{Name: ChaosMeshControllerImageName, Upstream: ChaosMeshControllerUpstreamImage, Forge: ChaosMeshControllerForgeImage},
		{Name: ChaosMeshDaemonImageName, Upstream: ChaosMeshDaemonUpstreamImage, Forge: ChaosMeshDaemonForgeImage},
	}
}

// Multus is the multus addon's image (thin mode).
func Multus() Image {
	return Image{Name: MultusImageName, Upstream: MultusUpstreamImage, Forge: MultusForgeImage}
}

// Traefik is the ingress-rollout scenario's ingress controller image.
func Traefik() Image {
	return Image{Name: TraefikImageName, Upstream: TraefikUpstreamImage, Forge: TraefikForgeImage}
}

// Echo is the ingress-rollout scenario's backend image (cmd/nodelab-echo).
// It is LocalOnly: labs build and load it whatever their image source.
func Echo() Image {
	return Image{Name: EchoImageName, Upstream: EchoForgeImage, Forge: EchoForgeImage}
}

// NodeProblemDetector is the oom-events scenario's kernel-log watcher.
func NodeProblemDetector() Image {
	return Image{Name: NodeProblemDetectorImageName, Upstream: NodeProblemDetectorUpstreamImage, Forge: NodeProblemDetectorForgeImage}
}

// NetworkPolicies is the NetworkPolicy enforcer's image.
func NetworkPolicies() Image {
	return Image{Name: NetworkPoliciesImageName, Upstream: NetworkPoliciesUpstreamImage, Forge: NetworkPoliciesForgeImage}
}

// LocalOnly reports whether no registry has the image (its Upstream is a
// forge reference), so even a lab that pulls its images must have the
// forge build it and load it into the nodes.
func (i Image) LocalOnly() bool {
	return strings.HasPrefix(i.Upstream, LocalRegistry+"/")
}

// Ref returns the reference to use for the given source: Forge for
// SourceForge, Upstream otherwise.
func (i Image) Ref(src Source) string {
	if src == SourceForge {
		return i.Forge
	}
	return i.Upstream
}

// AddonImages lists every addon and workload image that is not preloaded
// in the node image and not in Workloads(): labs get them on demand, when
// a scenario or a profile addon needs them.
func AddonImages() []Image {
	return append(append([]Image{Redis()}, ChaosMesh()...), Multus(), Traefik(), Echo(), Nginx(), NodeProblemDetector(), NetworkPolicies())
}
