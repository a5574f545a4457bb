package main

import (
	"syscall"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/instruments/stress"
	"github.com/nodelab/nodelab/lab/instruments/stress/procfs"
)

// rssTolerance bounds how far a client's VmRSS may be from the control's
// plus its share. Both run the same binary down the same client path, so
// they differ only by the pages touched and some runtime noise (measured
// well under 200 KiB); 1 MiB is a quarter of the 4 MiB share, enough to
// catch "did not touch" or "touched twice" without flaking.
const rssTolerance = 1 << 20

// TestRealRun runs what chaos-daemon runs: memStress --workers 2 --size
// 8MiB. Each client's VmRSS must exceed an idle control client's by its
// 4 MiB share; SIGTERM to the parent must end parent and clients.
func TestRealRun(t *testing.T) {
	g := NewWithT(t)
	// Control: a client holding one page (the smallest size there is).
	control := startMemstress(t, "--size", "1B", "--workers", "1", "--client", "true")
	control.holding(t, 1)
	base, err := procfs.VmRSS(control.cmd.Process.Pid)
	g.Expect(err).NotTo(HaveOccurred())

	parent := startMemstress(t, "--workers", "2", "--size", "8MiB")
	parent.holding(t, 2)
	var clients []procfs.Stat
	g.Eventually(func() (n []procfs.Stat, err error) {
		clients, err = parent.clients()
		return clients, err
	}).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(HaveLen(2))
	const share = 4 << 20
	for _, c := range clients {
		rss, err := procfs.VmRSS(c.PID)
		g.Expect(err).NotTo(HaveOccurred())
		grew := int64(rss) - int64(base)
		t.Logf("client %d: VmRSS %s, %+d B over the control's %s", c.PID, stress.FormatBytes(rss), grew, stress.FormatBytes(base))
		g.Expect(grew).To(BeNumerically("~", share, rssTolerance),
			"client %d grew by %d B over the control, want %d ± %d", c.PID, grew, share, rssTolerance)
	}
	g.Expect(parent.stdout.String()).To(ContainSubstring("4194304 B (4.19 MB, 4.00 MiB) each"))

	g.Expect(parent.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	g.Expect(parent.exitCode(t)).To(Equal(0), "stderr: %s", &parent.stderr)
	eventuallyGone(t, clients...)
}

// TestRestartsAnExitedClient: like upstream's workQueue, a client that dies
// (e.g. OOM-killed) is replaced about a second later.
func TestRestartsAnExitedClient(t *testing.T) {
	g := NewWithT(t)
	parent := startMemstress(t, "--workers", "1", "--size", "64KiB")
	parent.holding(t, 1)
	first, err := parent.clients()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(first).To(HaveLen(1))
	g.Expect(syscall.Kill(first[0].PID, syscall.SIGKILL)).To(Succeed())

	eventuallyGone(t, first[0])

	parent.holding(t, 2) // the replacement reports too
	var second procfs.Stat
	g.Eventually(func() (bool, error) {
		now, err := parent.clients()
		if len(now) == 1 && now[0] != first[0] {
			second = now[0]
		}
		return second.PID != 0, err
	}).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(BeTrue(), "no replacement client; stderr: %s", &parent.stderr)
	g.Expect(parent.stderr.String()).To(ContainSubstring("starting another in 1s"))

	g.Expect(parent.cmd.Process.Signal(syscall.SIGINT)).To(Succeed())
	g.Expect(parent.exitCode(t)).To(Equal(0), "stderr: %s", &parent.stderr)
	eventuallyGone(t, second)
}

// TestClientsDieWithAKilledParent: SIGKILL leaves the parent no chance to
// stop its clients; their parent-death signal must.
func TestClientsDieWithAKilledParent(t *testing.T) {
	g := NewWithT(t)
	parent := startMemstress(t, "--workers", "2", "--size", "128KiB")
	parent.holding(t, 2)
	clients, err := parent.clients()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(clients).To(HaveLen(2))
	g.Expect(parent.cmd.Process.Kill()).To(Succeed())
	parent.exitCode(t)
	eventuallyGone(t, clients...)
}

func TestBadFlagsExitAtOnce(t *testing.T) {
	for _, args := range [][]string{
		{"--workers", "2"}, // default --size 0KB: nothing to allocate
		{"--workers", "0", "--size", "1MiB"},
		{"--size", "1XB"},
	} {
		r := startMemstress(t, args...)
		if code := r.exitCode(t); code != exitUsage {
			t.Errorf("memstress %q exit code = %d, want %d; stderr: %s", args, code, exitUsage, &r.stderr)
		}
	}
}
