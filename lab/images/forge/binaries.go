package forge

// Binaries maps a binary name (the Bin* constants) to its absolute path in
// the forge cache.
type Binaries map[string]string

// Names of the binaries BuildBinaries produces.
const (
	BinKubeadm               = "kubeadm"
	BinKubelet               = "kubelet"
	BinKubectl               = "kubectl"
	BinKubeAPIServer         = "kube-apiserver"
	BinKubeControllerManager = "kube-controller-manager"
	BinKubeScheduler         = "kube-scheduler"
	BinKubeProxy             = "kube-proxy"
	BinEtcd                  = "etcd"
	BinCoreDNS               = "coredns"
	BinPause                 = "pause"
	BinFlanneld              = "flanneld"
	BinFlannelCNIPlugin      = "flannel"
	BinLocalPathProvisioner  = "local-path-provisioner"
	BinCrictl                = "crictl"
	// BinAgnhost is the Kubernetes e2e test image binary (test/images/agnhost).
	BinAgnhost = "agnhost"
)
