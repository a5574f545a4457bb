package profile

import (
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab/images"
)

func TestValidateThreshold(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"300Mi", true}, {"1Gi", true}, {"0", true}, {"1k", true}, {"0%", true}, {"10%", true},
		{"12.5%", true}, {"100%", true},
		{"300MB", false}, {"101%", false}, {"-1%", false}, {"-1Gi", false}, {"%", false},
		{"ten%", false}, {"", false}, {"lots", false},
		// strconv.ParseFloat takes these, the kubelet's users should not.
		{"NaN%", false}, {"nan%", false}, {"Inf%", false}, {"0x1p-2%", false}, {"1_0%", false},
		{"+5%", false}, {" 5%", false}, {"5 %", false}, {"1e1%", false}, {"150%", false}, {"-5%", false},
		{"100.0%", true}, {"0.5%", true}, {"1Pi", true}, {"1e15", true},
		{"1e400", false}, {"1e400Mi", false}, {"2Pi", false}, {"1Ei", false}, {"9223372036854775807", false},
	} {
		if err := validateThreshold(c.in); (err == nil) != c.ok {
			t.Errorf("validateThreshold(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func TestParseImageReference(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{images.UpstreamNodeImage, true},
		{images.ForgeNodeImage, true},
		{"kindest/node", true},
		{"localhost:5000/kind/node:v1", true},
		{"registry.k8s.io/kube-apiserver:v1.37.1", true},
		{"my_org/my__image-x:latest", true},
		{"kindest/node@sha256:" + strings.Repeat("a", 64), true},
		{"", false},
		{"kindest/node:", false},
		{"Kindest/node:v1", false},
		{"kindest/node:v1@sha256:abc", false},
		{"kindest/node@sha256:" + strings.Repeat("a", 63), false},
		{"kindest//node", false},
		{"-kindest/node", false},
		{"kindest/node:" + strings.Repeat("t", 129), false},
		{"http://kindest/node", false},
	} {
		if err := parseImageReference(c.in); (err == nil) != c.ok {
			t.Errorf("parseImageReference(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

// TestValidateGoProfile validates a profile built in Go (not decoded), to
// show Validate alone reports every problem.
func TestValidateGoProfile(t *testing.T) {
	nine := 9
	p := &Profile{
		APIVersion:  APIVersion,
		Kind:        Kind,
		Workers:     &nine,
		ImageSource: "",
		Kubelet: Kubelet{
			EvictionHard:            map[string]string{"memory.free": "1Gi"},
			EvictionSoftGracePeriod: map[string]string{"memory.available": "-5s"},
			FeatureGates:            map[string]bool{"Bad Gate": true},
		},
		Addons: []string{"istio"},
	}
	err := p.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	for _, want := range []string{
		"name: required",
		"workers: 9 is out of range",
		`imageSource: "" is not a known image source`,
		"kubelet.evictionHard[memory.free]: unknown eviction signal",
		`kubelet.evictionSoftGracePeriod[memory.available]: "-5s" is negative`,
		"kubelet.evictionSoftGracePeriod[memory.available]: grace period without a soft threshold",
		`kubelet.featureGates: unknown feature gate "Bad Gate" for Kubernetes ` + images.KubernetesVersion,
		`addons[0]: unknown addon "istio"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if n := len(leafErrors(err)); n != 8 {
		t.Errorf("got %d problems, want 8:\n%v", n, err)
	}
}

func TestKnownAddons(t *testing.T) {
	for _, name := range []string{"chaos-mesh", "traefik", "redis-cluster", "multus"} {
		if KnownAddons[name] == "" {
			t.Errorf("KnownAddons[%q] is missing or has no description", name)
		}
	}
	for name := range KnownAddons {
		if !nameRE.MatchString(name) {
			t.Errorf("addon name %q is not a DNS-1123 label", name)
		}
	}
}
