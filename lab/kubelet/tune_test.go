package kubelet

import (
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// A kubelet config as kubeadm writes it in a kind node (trimmed).
const kindConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
cgroupRoot: /kubelet
evictionHard:
  imagefs.available: 0%
  memory.available: 300Mi
  nodefs.available: 0%
  nodefs.inodesFree: 0%
failCgroupV1: false
`

func TestApplyTuningKeepsEverythingElse(t *testing.T) {
	out, err := ApplyTuning([]byte(kindConfig), Tuning{
		EvictionHard:                     map[string]string{"memory.available": "21000Mi"},
		EvictionPressureTransitionPeriod: 15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	hard := got["evictionHard"].(map[string]any)
	if hard["memory.available"] != "21000Mi" || hard["nodefs.available"] != "0%" || hard["imagefs.available"] != "0%" || len(hard) != 4 {
		t.Errorf("evictionHard = %v: the other thresholds must stay (a partial map replaces the kubelet's defaults)", hard)
	}
	if got["evictionPressureTransitionPeriod"] != "15s" || got["cgroupRoot"] != "/kubelet" || got["failCgroupV1"] != false {
		t.Errorf("tuned config = %s", out)
	}
}

func TestApplyTuningRefusesOtherDocuments(t *testing.T) {
	_, err := ApplyTuning([]byte("apiVersion: v1\nkind: ConfigMap\n"), Tuning{EvictionHard: map[string]string{"memory.available": "1Gi"}})
	if err == nil || !strings.Contains(err.Error(), "not a KubeletConfiguration") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigzShows(t *testing.T) {
	cz := &Configz{EvictionHard: map[string]string{"memory.available": "1Gi", "nodefs.available": "0%"}}
	cz.EvictionPressureTransitionPeriod.Duration = 15 * time.Second
	if !cz.Shows(Tuning{EvictionHard: map[string]string{"memory.available": "1Gi"}, EvictionPressureTransitionPeriod: 15 * time.Second}) {
		t.Error("configz with the tuned values does not show them")
	}
	if cz.Shows(Tuning{EvictionHard: map[string]string{"memory.available": "2Gi"}}) {
		t.Error("configz shows a threshold it does not have")
	}
	if cz.Shows(Tuning{EvictionPressureTransitionPeriod: time.Minute}) {
		t.Error("configz shows a transition period it does not have")
	}
}

func TestConfigFlag(t *testing.T) {
	for _, c := range []struct{ cmdline, want string }{
		{"/usr/bin/kubelet\x00--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf\x00--config=/var/lib/kubelet/config.yaml\x00--node-ip=172.18.0.3\x00", "/var/lib/kubelet/config.yaml"},
		{"/usr/bin/kubelet\x00--config\x00/etc/kubernetes/kubelet/kubelet-config.json\x00--v=2\x00", "/etc/kubernetes/kubelet/kubelet-config.json"},
		{"/usr/bin/kubelet\x00--v=2\x00--config\x00", ""},
		{"/usr/bin/kubelet\x00--kubeconfig=/x\x00", ""},
	} {
		if got := ConfigFlag([]byte(c.cmdline)); got != c.want {
			t.Errorf("ConfigFlag(%q) = %q, want %q", c.cmdline, got, c.want)
		}
	}
}
