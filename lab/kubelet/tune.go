package kubelet

import (
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
	return strings.Join(parts, ", ")
}

// Configz is the part of a kubelet's /configz that Tune checks.
type Configz struct {
	EvictionHard                     map[string]string `json:"evictionHard"`
	EvictionSoft                     map[string]string `json:"evictionSoft"`
	EvictionPressureTransitionPeriod metav1.Duration   `json:"evictionPressureTransitionPeriod"`
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
	return t.EvictionPressureTransitionPeriod == 0 || c.EvictionPressureTransitionPeriod.Duration == t.EvictionPressureTransitionPeriod
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
	node := opts.Node.String()
	restore = func(ctx context.Context) error { return Restore(ctx, opts) }
	files, err := nodeexec.ReadFiles(ctx, opts.Node, ConfigPath, BackupPath)
	if err != nil {
		return restore, fmt.Errorf("tune kubelet on %s: %w", node, err)
	}
	original, ok := files[BackupPath]
	if !ok {
		original, ok = files[ConfigPath]
		if !ok {
			return restore, fmt.Errorf("tune kubelet on %s: %s does not exist (is this a kubeadm/kind node?)", node, ConfigPath)
		}
		if err := nodeexec.WriteFile(ctx, opts.Node, BackupPath, original, 0o644); err != nil {
			return restore, fmt.Errorf("tune kubelet on %s: back up its config: %w", node, err)
		}
	}
	tuned, err := ApplyTuning(original, t)
	if err != nil {
		return restore, fmt.Errorf("tune kubelet on %s: %w", node, err)
	}
	if err := restartWith(ctx, opts, tuned, func(c *Configz) bool { return c.Shows(t) }); err != nil {
		return restore, fmt.Errorf("tune kubelet on %s (%s): %w", node, t, err)
	}
	opts.log("kubelet on %s restarted with %s", node, t)
	return restore, nil
}

// Restore puts back the configuration Tune backed up, restarts the kubelet
// and waits until /configz shows the original eviction thresholds. Without
// a backup there is nothing to restore.
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
	var want struct {
		EvictionHard map[string]string `json:"evictionHard"`
	}
	if err := yaml.Unmarshal(original, &want); err != nil {
		return fmt.Errorf("restore kubelet config on %s: decode the backup: %w", node, err)
	}
	err = restartWith(ctx, opts, original, func(c *Configz) bool {
		for k, v := range want.EvictionHard {
			if c.EvictionHard[k] != v {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("restore kubelet config on %s: %w", node, err)
	}
	if _, err := nodeexec.Run(ctx, opts.Node, "rm", "-f", BackupPath); err != nil {
		return fmt.Errorf("restore kubelet config on %s: remove the backup: %w", node, err)
	}
	opts.log("kubelet on %s restored to its original config", node)
	return nil
}

func (o TuneOptions) log(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// restartWith writes config, restarts the kubelet and waits until the node
// is Ready with a kubelet started after the restart whose /configz
// satisfies shows.
func restartWith(ctx context.Context, opts TuneOptions, config []byte, shows func(*Configz) bool) error {
	node := opts.Node.String()
	// The old kubelet's PID: the wait below accepts only a new process
	// (its /configz may already satisfy shows, e.g. when a restore's
	// thresholds are a subset of the tuned ones).
	oldPID, err := nodeexec.Run(ctx, opts.Node, "pidof", "kubelet")
	if err != nil {
		return fmt.Errorf("find the kubelet on %s: %w", node, err)
	}
	oldPID = strings.TrimSpace(oldPID)
	if err := nodeexec.WriteFile(ctx, opts.Node, ConfigPath, config, fs.FileMode(0o644)); err != nil {
		return err
	}
	// systemd restarts the kubelet shortly after this command returns: a
	// node agent's exec is served by the kubelet itself, and a restart
	// under it would cut the command off. The wait below sees the new
	// kubelet by its PID, then its /configz.
	if _, err := nodeexec.Run(ctx, opts.Node, "systemd-run", "--collect", "--quiet",
		fmt.Sprintf("--on-active=%dms", restartDelay.Milliseconds()), "systemctl", "restart", "kubelet"); err != nil {
		return fmt.Errorf("restart kubelet: %w", err)
	}
	what := "the restarted kubelet on " + node + " active, showing the new config in /configz, and the node Ready"
	err = wait.Until(ctx, wait.Within{What: what, Timeout: opts.Timeout, Poll: restartPoll}, func(g gomega.Gomega) {
		pid, err := nodeexec.Run(ctx, opts.Node, "pidof", "kubelet")
		g.Expect(err).NotTo(gomega.HaveOccurred(), "last seen: no kubelet process")
		g.Expect(strings.TrimSpace(pid)).NotTo(gomega.Equal(oldPID), "last seen: the kubelet is still the old process %s", oldPID)
		active, err := nodeexec.Run(ctx, opts.Node, "systemctl", "is-active", "kubelet")
		g.Expect(err).NotTo(gomega.HaveOccurred(), "last seen: kubelet service: %s", strings.TrimSpace(active))
		cz, err := ReadConfigz(ctx, opts.Client, node)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "read /configz of %s", node)
		g.Expect(shows(cz)).To(gomega.BeTrue(), "last seen: /configz still shows evictionHard=%v evictionPressureTransitionPeriod=%s",
			cz.EvictionHard, cz.EvictionPressureTransitionPeriod.Duration)
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
