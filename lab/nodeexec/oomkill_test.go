package nodeexec

import "testing"

// A kill measured on a kind worker (cgroup v1, kernel 6.18) whose pods
// cgroup hit the limit node allocatable gave it.
const kernelLogSample = `[72830.019506] cni0: port 3(veth702a0d12) entered forwarding state
[72969.296924] [  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
[72969.296944] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-5f1d.scope,mems_allowed=0,oom_memcg=/docker/90a8/kubelet.slice/kubelet-kubepods.slice,task_memcg=/docker/90a8/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod1ad1.slice/cri-containerd-f3c9.scope,task=agnhost,pid=17296,uid=0
[72969.296987] Memory cgroup out of memory: Killed process 17296 (agnhost) total-vm:1825464kB, anon-rss:520192kB, file-rss:27692kB, shmem-rss:0kB, UID:0 pgtables:1192kB oom_score_adj:1000
`

func TestParseOOMKills(t *testing.T) {
	kills := ParseOOMKills(ParseKernelLog(kernelLogSample))
	if len(kills) != 1 {
		t.Fatalf("got %d kills, want 1: %+v", len(kills), kills)
	}
	k := kills[0]
	if k.At != 72969.296944 || k.Constraint != "CONSTRAINT_MEMCG" || k.Task != "agnhost" || k.PID != 17296 || k.AnonRSSKiB != 520192 || !k.HasScoreAdj || k.OOMScoreAdj != 1000 {
		t.Errorf("parsed %+v", k)
	}
	if !InMemcg(k.OOMMemcg, "/kubelet.slice/kubelet-kubepods.slice") {
		t.Errorf("oom_memcg %s should be the pods cgroup", k.OOMMemcg)
	}
	if InMemcg(k.OOMMemcg, "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice") {
		t.Error("the pods cgroup is not its besteffort child")
	}
	if !InMemcg("/kubepods.slice", "kubepods.slice") || InMemcg("/x-kubepods.slice", "/kubepods.slice") {
		t.Error("InMemcg must match whole path components")
	}
}
