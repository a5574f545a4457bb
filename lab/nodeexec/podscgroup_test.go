package nodeexec

import "testing"

func TestPodsCgroupPath(t *testing.T) {
	for _, tc := range []struct {
		driver     CgroupDriver
		root, want string
	}{
		{DriverSystemd, KindCgroupRoot, "/kubelet.slice/kubelet-kubepods.slice"},
		{DriverCgroupfs, KindCgroupRoot, "/kubelet/kubepods"},
		{DriverSystemd, "", "/kubepods.slice"},
		{DriverSystemd, "/", "/kubepods.slice"},
		{DriverCgroupfs, "", "/kubepods"},
	} {
		got, err := PodsCgroupPath(tc.driver, tc.root)
		if err != nil || got != tc.want {
			t.Errorf("PodsCgroupPath(%s, %q) = %q, %v; want %q", tc.driver, tc.root, got, err, tc.want)
		}
	}
	if _, err := PodsCgroupPath("", "/"); err == nil {
		t.Error("an empty driver should be an error")
	}
}
