package images

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
)

// Addon image names (Image.Name), also the forge recipe keys.
const (
	RedisImageName               = "redis"
	ChaosMeshControllerImageName = "chaos-mesh"
	ChaosMeshDaemonImageName     = "chaos-daemon"
)

// Redis is the redis-cluster fixture's image.
func Redis() Image {
	return Image{Name: RedisImageName, Upstream: RedisUpstreamImage, Forge: RedisForgeImage}
}

// ChaosMesh are the images of the chaos-mesh addon (no dashboard, no DNS server).
func ChaosMesh() []Image {
	return []Image{
		{Name: ChaosMeshControllerImageName, Upstream: ChaosMeshControllerUpstreamImage, Forge: ChaosMeshControllerForgeImage},
		{Name: ChaosMeshDaemonImageName, Upstream: ChaosMeshDaemonUpstreamImage, Forge: ChaosMeshDaemonForgeImage},
	}
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
	return append([]Image{Redis()}, ChaosMesh()...)
}
