package kubelet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
)

const (
	// ConfigPath is where kubeadm writes the kubelet's configuration in a
	// kind node (the kubelet's --config).
	ConfigPath = "/var/lib/kubelet/config.yaml"
	// BackupPath holds the configuration as it was before the first Tune,
	// until Restore puts it back. A backup left by an interrupted run is
	// the original: Tune never overwrites it.
	BackupPath = ConfigPath + ".nodelab-orig"
)

// Tuning is a change to one node's kubelet configuration. Zero fields are
// left as they are.
type Tuning struct {
	// EvictionHard entries replace the node's entries with the same key;
	// other keys stay (setting any key in a kubelet config file replaces
	// the kubelet's whole default map, so the file's map is kept whole).
	EvictionHard map[string]string
	// EvictionPressureTransitionPeriod is how long a pressure condition
	// stays after the signal cleared (kubelet default 5m).
	EvictionPressureTransitionPeriod time.Duration
	// CPUManagerPolicy is "none" (the default) or "static". Changing it
	// needs the CPU manager's checkpoint removed (TuneOptions.ResetCPUManagerState),
	// or the kubelet does not start.
	CPUManagerPolicy string
	// TopologyManagerPolicy is "none" (the default), "best-effort",
	// "restricted" or "single-numa-node".
	TopologyManagerPolicy string
	// KubeReserved entries replace the node's entries with the same key
	// (the static CPU policy needs a CPU reservation above zero).
	KubeReserved map[string]string
}

// String is the tuning as kubelet config keys, for logs.
func (t Tuning) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(t.EvictionHard)) {
		parts = append(parts, fmt.Sprintf("evictionHard[%s]=%s", k, t.EvictionHard[k]))
	}
	if t.EvictionPressureTransitionPeriod > 0 {
		parts = append(parts, "evictionPressureTransitionPeriod="+t.EvictionPressureTransitionPeriod.String())
	}
	if t.CPUManagerPolicy != "" {
		parts = append(parts, "cpuManagerPolicy="+t.CPUManagerPolicy)
	}
	if t.TopologyManagerPolicy != "" {
		parts = append(parts, "topologyManagerPolicy="+t.TopologyManagerPolicy)
	}
	for _, k := range slices.Sorted(maps.Keys(t.KubeReserved)) {
		parts = append(parts, fmt.Sprintf("kubeReserved[%s]=%s", k, t.KubeReserved[k]))
	}
	return strings.Join(parts, ", ")
}

// Configz is the part of a kubelet's /configz that Tune checks.
type Configz struct {
	EvictionHard                     map[string]string `json:"evictionHard"`
	EvictionSoft                     map[string]string `json:"evictionSoft"`
	EvictionPressureTransitionPeriod metav1.Duration   `json:"evictionPressureTransitionPeriod"`
	CPUManagerPolicy                 string            `json:"cpuManagerPolicy"`
	TopologyManagerPolicy            string            `json:"topologyManagerPolicy"`
	KubeReserved                     map[string]string `json:"kubeReserved"`
	// ClusterDomain is the DNS domain pods resolve Services under.
	ClusterDomain string `json:"clusterDomain"`
	// SystemReserved, CgroupDriver, CgroupRoot and EnforceNodeAllocatable
	// say where the pods' cgroup is and what limits it: with "pods" in
	// EnforceNodeAllocatable, the kubelet limits it to capacity −
	// kubeReserved − systemReserved.
	SystemReserved         map[string]string `json:"systemReserved"`
	CgroupDriver           string            `json:"cgroupDriver"`
	CgroupRoot             string            `json:"cgroupRoot"`
	EnforceNodeAllocatable []string          `json:"enforceNodeAllocatable"`
}

// ReadConfigz reads the running kubelet's configuration of node through
// the API server proxy.
func ReadConfigz(ctx context.Context, cs kubernetes.Interface, node string) (*Configz, error) {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", "configz").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read /configz of node %s: %w", node, err)
	}
	var cz struct {
		KubeletConfig Configz `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(raw, &cz); err != nil {
		return nil, fmt.Errorf("decode /configz of node %s: %w", node, err)
	}
	return &cz.KubeletConfig, nil
}

// Shows reports whether the running configuration has every value of t.
func (c *Configz) Shows(t Tuning) bool {
	for k, v := range t.EvictionHard {
		if c.EvictionHard[k] != v {
			return false
		}
	}
	for k, v := range t.KubeReserved {
		if c.KubeReserved[k] != v {
			return false
		}
	}
	return (t.EvictionPressureTransitionPeriod == 0 || c.EvictionPressureTransitionPeriod.Duration == t.EvictionPressureTransitionPeriod) &&
		(t.CPUManagerPolicy == "" || c.CPUManagerPolicy == t.CPUManagerPolicy) &&
		(t.TopologyManagerPolicy == "" || c.TopologyManagerPolicy == t.TopologyManagerPolicy)
}

// ApplyTuning returns the kubelet config file config with t applied. Only
// the keys t sets change; the rest of the document is kept as it was.
func ApplyTuning(config []byte, t Tuning) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("decode kubelet config: %w", err)
	}
	if doc["kind"] != "KubeletConfiguration" {
		return nil, fmt.Errorf("kubelet config is a %v, not a KubeletConfiguration", doc["kind"])
	}
	if len(t.EvictionHard) > 0 {
		hard := map[string]any{}
		if old, ok := doc["evictionHard"].(map[string]any); ok {
			maps.Copy(hard, old)
		}
		for k, v := range t.EvictionHard {
			hard[k] = v
		}
		doc["evictionHard"] = hard
	}
	if t.EvictionPressureTransitionPeriod > 0 {
		doc["evictionPressureTransitionPeriod"] = t.EvictionPressureTransitionPeriod.String()
	}
	if t.CPUManagerPolicy != "" {
		doc["cpuManagerPolicy"] = t.CPUManagerPolicy
	}
	if t.TopologyManagerPolicy != "" {
		doc["topologyManagerPolicy"] = t.TopologyManagerPolicy
	}
	if len(t.KubeReserved) > 0 {
		reserved := map[string]any{}
		if old, ok := doc["kubeReserved"].(map[string]any); ok {
			maps.Copy(reserved, old)
		}
		for k, v := range t.KubeReserved {
			reserved[k] = v
		}
		doc["kubeReserved"] = reserved
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode kubelet config: %w", err)
	}
	return out, nil
}

// TuneOptions says which node to tune and how long to wait.
type TuneOptions struct {
	// Client reads the node and its /configz.
	Client kubernetes.Interface
	// Node is the kind node container; its String() is the node name.
	Node nodeexec.Node
	// Timeout bounds each wait for the restarted kubelet.
	Timeout time.Duration
	// ResetCPUManagerState removes the CPU manager's checkpoint
	// (CPUManagerStatePath) before the restart: the documented step when
	// cpuManagerPolicy changes, after the node was drained.
	ResetCPUManagerState bool
	// Log receives progress lines; nil for none.
	Log func(format string, args ...any)
}

// Tune rewrites the node's kubelet configuration with t, restarts the
// kubelet and waits until /configz shows t and the node is Ready. It
// returns a restore function that puts the original file back the same
// way; call it (e.g. from DeferCleanup) even when Tune failed half-way.
//
// Caveat for eviction thresholds: the kubelet subtracts evictionHard
// memory.available from the node's allocatable memory, and re-admits its
// pods at start-up. A threshold close to the available memory shrinks
// allocatable to about the node's working set plus the headroom, and pods
// whose requests no longer fit are rejected (OutOfmemory).
func Tune(ctx context.Context, opts TuneOptions, t Tuning) (restore func(context.Context) error, err error) {
	restore = func(ctx context.Context) error { return Restore(ctx, opts) }
	tuned, err := tunedConfig(ctx, opts, t)
	if err != nil {
		return restore, err
	}
	if err := restartWith(ctx, opts, tuned, func(c *Configz) bool { return c.Shows(t) }); err != nil {
		return restore, fmt.Errorf("tune kubelet on %s (%s): %w", opts.Node, t, err)
	}
	opts.log("kubelet on %s restarted with %s", opts.Node, t)
	return restore, nil
}

// Rewrite is Tune without the wait: it writes the tuned configuration and
// has systemd restart the kubelet, and returns when the restart is
// scheduled (RestartDelay later). The caller waits for what it expects,
// a kubelet that comes back or one that does not; restore undoes it the
// same way as Tune's.
func Rewrite(ctx context.Context, opts TuneOptions, t Tuning) (restore func(context.Context) error, err error) {
	restore = func(ctx context.Context) error { return Restore(ctx, opts) }
	tuned, err := tunedConfig(ctx, opts, t)
	if err != nil {
		return restore, err
	}
	if _, _, err := writeAndRestart(ctx, opts, tuned); err != nil {
		return restore, fmt.Errorf("rewrite kubelet config on %s (%s): %w", opts.Node, t, err)
	}
	opts.log("kubelet on %s restarting with %s (not waited for)", opts.Node, t)
	return restore, nil
}

// tunedConfig backs up the node's configuration (once: a backup left by an
// interrupted run is the original) and returns the original with t applied.
func tunedConfig(ctx context.Context, opts TuneOptions, t Tuning) ([]byte, error) {
	node := opts.Node.String()
	files, err := nodeexec.ReadFiles(ctx, opts.Node, ConfigPath, BackupPath)
	if err != nil {
		return nil, fmt.Errorf("tune kubelet on %s: %w", node, err)
	}
	original, ok := files[BackupPath]
	if !ok {
		original, ok = files[ConfigPath]
		if !ok {
			return nil, fmt.Errorf("tune kubelet on %s: %s does not exist (is this a kubeadm/kind node?)", node, ConfigPath)
		}
		if err := nodeexec.WriteFile(ctx, opts.Node, BackupPath, original, 0o644); err != nil {
			return nil, fmt.Errorf("tune kubelet on %s: back up its config: %w", node, err)
		}
	}
	tuned, err := ApplyTuning(original, t)
	if err != nil {
		return nil, fmt.Errorf("tune kubelet on %s: %w", node, err)
	}
	return tuned, nil
}

// restoredFields are the keys of the original configuration Restore checks
// in /configz (with the kubelet's defaults where the file has none).
type restoredFields struct {
	EvictionHard          map[string]string `json:"evictionHard"`
	CPUManagerPolicy      string            `json:"cpuManagerPolicy"`
	TopologyManagerPolicy string            `json:"topologyManagerPolicy"`
	KubeReserved          map[string]string `json:"kubeReserved"`
}

func (f *restoredFields) defaults() {
	if f.CPUManagerPolicy == "" {
		f.CPUManagerPolicy = "none"
	}
	if f.TopologyManagerPolicy == "" {
		f.TopologyManagerPolicy = "none"
	}
}

// Restore puts back the configuration Tune backed up, restarts the kubelet
// and waits until /configz shows the original eviction thresholds, CPU and
// topology manager policies; then it checks the file holds the original
// bytes and removes the backup. When the CPU manager policy differs from
// the original's, the CPU manager's checkpoint is removed first (without
// it the kubelet would not start): the caller must have removed the pods
// with exclusive CPUs. Without a backup there is nothing to restore.
func Restore(ctx context.Context, opts TuneOptions) error {
	node := opts.Node.String()
	files, err := nodeexec.ReadFiles(ctx, opts.Node, BackupPath)
	if err != nil {
		return fmt.Errorf("restore kubelet config on %s: %w", node, err)
	}
	original, ok := files[BackupPath]
	if !ok {
		return nil
	}
	var want restoredFields
	if err := yaml.Unmarshal(original, &want); err != nil {
		return fmt.Errorf("restore kubelet config on %s: decode the backup: %w", node, err)
	}
	want.defaults()
	// The checkpoint, not the config file, says which policy wrote it (a
	// restore cut off after writing the file would otherwise leave a
	// checkpoint the original policy refuses).
	state, err := ReadCPUManagerState(ctx, opts.Node)
	if err != nil {
		return fmt.Errorf("restore kubelet config on %s: %w", node, err)
	}
	if state != nil && state.PolicyName != want.CPUManagerPolicy {
		opts.ResetCPUManagerState = true
	}
	err = restartWith(ctx, opts, original, func(c *Configz) bool {
		for k, v := range want.EvictionHard {
			if c.EvictionHard[k] != v {
				return false
			}
		}
		// Only the backup's keys: --kube-reserved flags add keys /configz
		// shows and the file has not (scenarios check what they added is
		// gone by its effect: allocatable, the pods cgroup's limit).
		for k, v := range want.KubeReserved {
			if c.KubeReserved[k] != v {
				return false
			}
		}
		return c.CPUManagerPolicy == want.CPUManagerPolicy && c.TopologyManagerPolicy == want.TopologyManagerPolicy
	})
	if err != nil {
		return fmt.Errorf("restore kubelet config on %s: %w", node, err)
	}
	back, err := nodeexec.ReadFile(ctx, opts.Node, ConfigPath)
	if err != nil {
		return fmt.Errorf("restore kubelet config on %s: read it back: %w", node, err)
	}
	if !bytes.Equal(back, original) {
		return fmt.Errorf("restore kubelet config on %s: %s differs from the backup %s after the restore (%d vs %d bytes); the backup is kept", node, ConfigPath, BackupPath, len(back), len(original))
	}
	if _, err := nodeexec.Run(ctx, opts.Node, "rm", "-f", BackupPath); err != nil {
		return fmt.Errorf("restore kubelet config on %s: remove the backup: %w", node, err)
	}
	opts.log("kubelet on %s restored to its original config (same bytes; /configz shows cpuManagerPolicy=%s topologyManagerPolicy=%s)", node, want.CPUManagerPolicy, want.TopologyManagerPolicy)
	return nil
}

func (o TuneOptions) log(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// writeAndRestart writes config (and removes the CPU manager checkpoint
// when asked), then has systemd restart the kubelet RestartDelay later, in
// a transient unit named restartUnit. It returns the PID of the kubelet
// that ran before ("" when none ran: a kubelet that failed to start).
func writeAndRestart(ctx context.Context, opts TuneOptions, config []byte) (oldPID, restartUnit string, err error) {
	// The old kubelet's PID: the wait after this accepts only a new process
	// (its /configz may already satisfy the check, e.g. when a restore's
	// thresholds are a subset of the tuned ones). pidof fails when there
	// is none.
	if pid, err := nodeexec.Run(ctx, opts.Node, "pidof", "kubelet"); err == nil {
		oldPID = strings.TrimSpace(pid)
	}
	if err := nodeexec.WriteFile(ctx, opts.Node, ConfigPath, config, fs.FileMode(0o644)); err != nil {
		return oldPID, "", err
	}
	// systemd restarts the kubelet shortly after this command returns: a
	// node agent's exec is served by the kubelet itself, and a restart
	// under it would cut the command off. The caller sees the restart done
	// by the transient units' states (restartDone), then the new kubelet by
	// its PID. (A kubelet that systemd restarts by itself, one failing to
	// start, may read the new config before the scheduled restart: a wait
	// on the PID alone would return before the restart.)
	restartUnit = fmt.Sprintf("nodelab-kubelet-restart-%d", time.Now().UnixNano())
	// AccuracySec: systemd coalesces timers within a minute by default
	// (measured: a 2 s timer fired after 27 s).
	restart := []string{"systemctl", "restart", "kubelet"}
	if opts.ResetCPUManagerState {
		// Removed while no kubelet runs (a running one may write it again,
		// and systemd restarts a failing one every second).
		restart = []string{"sh", "-c", `systemctl stop kubelet && rm -f "$1" && systemctl start kubelet`, "sh", CPUManagerStatePath}
	}
	args := append([]string{"--unit", restartUnit, "--collect", "--quiet",
		fmt.Sprintf("--on-active=%dms", RestartDelay.Milliseconds()), fmt.Sprintf("--timer-property=AccuracySec=%dms", restartAccuracy.Milliseconds())}, restart...)
	if _, err := nodeexec.Run(ctx, opts.Node, "systemd-run", args...); err != nil {
		return oldPID, "", fmt.Errorf("restart kubelet: %w", err)
	}
	if opts.ResetCPUManagerState {
		opts.log("%s on %s removed with the restart (kubelet stopped, file removed, kubelet started)", CPUManagerStatePath, opts.Node)
	}
	return oldPID, restartUnit, nil
}

// restartDone reports whether the restart scheduled in restartUnit has
// run: its timer neither waits nor runs, and its service (systemctl
// restart, which returns once the kubelet is started) is not active.
func restartDone(ctx context.Context, node nodeexec.Node, restartUnit string) (bool, string, error) {
	out, err := nodeexec.Run(ctx, node, "systemctl", "show", "-p", "SubState,ActiveState", restartUnit+".timer", restartUnit+".service")
	if err != nil {
		return false, "", err
	}
	units := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(units) != 2 {
		return false, out, fmt.Errorf("systemctl show %s.timer %s.service: %q", restartUnit, restartUnit, out)
	}
	timer, service := units[0], units[1]
	done := !strings.Contains(timer, "SubState=waiting") && !strings.Contains(timer, "SubState=running") &&
		!strings.Contains(service, "ActiveState=active") && !strings.Contains(service, "ActiveState=activating")
	return done, strings.ReplaceAll(timer+"; "+service, "\n", " "), nil
}

// restartWith writes config, restarts the kubelet and waits until the node
// is Ready with a kubelet started after the restart whose /configz
// satisfies shows.
func restartWith(ctx context.Context, opts TuneOptions, config []byte, shows func(*Configz) bool) error {
	node := opts.Node.String()
	oldPID, restartUnit, err := writeAndRestart(ctx, opts, config)
	if err != nil {
		return err
	}
	lastPID := ""
	what := "the restarted kubelet on " + node + " active (the same process in two looks), showing the new config in /configz, and the node Ready"
	err = wait.Until(ctx, wait.Within{What: what, Timeout: opts.Timeout, Poll: restartPoll}, func(g gomega.Gomega) {
		done, seen, err := restartDone(ctx, opts.Node, restartUnit)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "read the state of the scheduled restart %s", restartUnit)
		g.Expect(done).To(gomega.BeTrue(), "last seen: the scheduled restart has not run yet (%s)", seen)
		out, err := nodeexec.Run(ctx, opts.Node, "pidof", "kubelet")
		g.Expect(err).NotTo(gomega.HaveOccurred(), "last seen: no kubelet process")
		pid := strings.TrimSpace(out)
		g.Expect(pid).NotTo(gomega.Equal(oldPID), "last seen: the kubelet is still the old process %s", oldPID)
		// The same process in two polls: a kubelet that fails to start
		// serves healthz and /configz for a fraction of a second first.
		previous := lastPID
		lastPID = pid
		g.Expect(pid).To(gomega.Equal(previous), "last seen: kubelet process %s, new since the previous look", pid)
		active, err := nodeexec.Run(ctx, opts.Node, "systemctl", "is-active", "kubelet")
		g.Expect(err).NotTo(gomega.HaveOccurred(), "last seen: kubelet service: %s", strings.TrimSpace(active))
		cz, err := ReadConfigz(ctx, opts.Client, node)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "read /configz of %s", node)
		g.Expect(shows(cz)).To(gomega.BeTrue(), "last seen: /configz still shows evictionHard=%v evictionPressureTransitionPeriod=%s cpuManagerPolicy=%s topologyManagerPolicy=%s kubeReserved=%v",
			cz.EvictionHard, cz.EvictionPressureTransitionPeriod.Duration, cz.CPUManagerPolicy, cz.TopologyManagerPolicy, cz.KubeReserved)
		n, err := opts.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get node %s", node)
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				g.Expect(c.Status).To(gomega.Equal(corev1.ConditionTrue), "last seen: node Ready=%s: %s", c.Status, c.Message)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("wait %s for the restarted kubelet: %w", opts.Timeout, err)
	}
	return nil
}

// RestoreLeftovers restores the kubelet config of every node that holds a
// backup: what an interrupted run left. opts gives each node's options.
func RestoreLeftovers(ctx context.Context, nodes []nodeexec.Node, opts func(nodeexec.Node) TuneOptions) error {
	for _, n := range nodes {
		files, err := nodeexec.ReadFiles(ctx, n, BackupPath)
		if err != nil {
			return err
		}
		if _, ok := files[BackupPath]; !ok {
			continue
		}
		o := opts(n)
		o.log("%s holds %s from an interrupted run: restoring it first", n, BackupPath)
		if err := Restore(ctx, o); err != nil {
			return err
		}
	}
	return nil
}
