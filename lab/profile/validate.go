package profile

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodelab/nodelab/lab/images"
)

// MaxNameLength bounds a lab name: kind names its containers
// "<name>-external-load-balancer" and uses them as host names, which must
// stay within 63 characters.
const MaxNameLength = 40

// KnownAddons maps each addon name a profile may list to a one-line
// description.
var KnownAddons = map[string]string{
	"chaos-mesh":          "Chaos Mesh: pod, network, stress and IO chaos through CRDs",
	"traefik":             "Traefik ingress controller",
	"redis-cluster":       "a Redis Cluster StatefulSet to break and watch recover",
	"multus":              "Multus CNI: secondary pod network interfaces",
	"multi-networkpolicy": "MultiNetworkPolicy enforcer for Multus secondary networks (upstream image only: not buildable offline)",
	"network-policies":    "NetworkPolicy enforcer (kube-network-policies) beside a pod network that enforces none, such as flannel; refused on kindnetd labs",
}

// EvictionSignals are the kubelet eviction signal names a profile may set
// thresholds for.
var EvictionSignals = []string{
	"memory.available",
	"nodefs.available",
	"nodefs.inodesFree",
	"imagefs.available",
	"imagefs.inodesFree",
	"containerfs.available",
	"containerfs.inodesFree",
	"pid.available",
}

// Validate reports every problem of a defaulted profile at once, joined
// with errors.Join, each naming the field path and what to do.
func (p *Profile) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if p.APIVersion != APIVersion {
		add("apiVersion: got %q, want %q", p.APIVersion, APIVersion)
	}
	if p.Kind != Kind {
		add("kind: got %q, want %q", p.Kind, Kind)
	}
	errs = append(errs, validateName(p.Name)...)
	if w := p.WorkerCount(); w < 0 || w > MaxWorkers {
		add("workers: %d is out of range; use 0 to %d", w, MaxWorkers)
	}
	if !slices.Contains(images.Sources, p.ImageSource) {
		add("imageSource: %q is not a known image source; use one of %s", p.ImageSource, sourceList())
	}
	if p.NodeImage != "" {
		if err := parseImageReference(p.NodeImage); err != nil {
			add("nodeImage: %q is not a valid image reference (%v); use repository[:tag][@sha256:digest], e.g. %s", p.NodeImage, err, images.ForgeNodeImage)
		}
	}
	errs = append(errs, p.Kubelet.validate("kubelet")...)
	errs = append(errs, validateAddons(p.Addons)...)
	return errors.Join(errs...)
}

// nameRE is a DNS-1123 label: kind uses the name in container and host names.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func validateName(n string) []error {
	if n == "" {
		return []error{errors.New("name: required; set a lab name such as " + DefaultName)}
	}
	var errs []error
	if !nameRE.MatchString(n) {
		errs = append(errs, fmt.Errorf("name: %q is not a valid kind cluster name; use lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. %s)", n, DefaultName))
	}
	if len(n) > MaxNameLength {
		errs = append(errs, fmt.Errorf("name: %q is %d characters long; use at most %d", n, len(n), MaxNameLength))
	}
	return errs
}

func validateAddons(addons []string) []error {
	var errs []error
	seen := map[string]bool{}
	for i, a := range addons {
		path := fmt.Sprintf("addons[%d]", i)
		if _, ok := KnownAddons[a]; !ok {
			errs = append(errs, fmt.Errorf("%s: unknown addon %q; use one of %s", path, a, strings.Join(sortedKeys(KnownAddons), ", ")))
		}
		if seen[a] {
			errs = append(errs, fmt.Errorf("%s: addon %q is listed twice; remove the duplicate", path, a))
		}
		seen[a] = true
	}
	return errs
}

func (k *Kubelet) validate(path string) []error {
	var errs []error
	errs = append(errs, validateThresholds(path+".evictionHard", k.EvictionHard)...)
	errs = append(errs, validateThresholds(path+".evictionSoft", k.EvictionSoft)...)

	gracePath := path + ".evictionSoftGracePeriod"
	for _, sig := range sortedKeys(k.EvictionSoftGracePeriod) {
		p := fmt.Sprintf("%s[%s]", gracePath, sig)
		if !slices.Contains(EvictionSignals, sig) {
			errs = append(errs, unknownSignal(p))
			continue
		}
		if err := validateDuration(p, k.EvictionSoftGracePeriod[sig]); err != nil {
			errs = append(errs, err)
		}
		if _, ok := k.EvictionSoft[sig]; !ok {
			errs = append(errs, fmt.Errorf("%s: grace period without a soft threshold; add %s.evictionSoft[%s] or remove it", p, path, sig))
		}
	}
	for _, sig := range sortedKeys(k.EvictionSoft) {
		if _, ok := k.EvictionSoftGracePeriod[sig]; !ok && slices.Contains(EvictionSignals, sig) {
			errs = append(errs, fmt.Errorf("%s.evictionSoft[%s]: soft threshold has no grace period; add %s[%s], e.g. \"30s\"", path, sig, gracePath, sig))
		}
	}
	if d := k.EvictionPressureTransitionPeriod; d != "" {
		if err := validateDuration(path+".evictionPressureTransitionPeriod", d); err != nil {
			errs = append(errs, err)
		}
	}
	for _, gate := range sortedKeys(k.FeatureGates) {
		if err := validateGate(path+".featureGates", gate); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateThresholds checks threshold values the way the kubelet parses
// them: a non-negative resource quantity or a percentage from 0% to 100%.
func validateThresholds(path string, m map[string]string) []error {
	var errs []error
	for _, sig := range sortedKeys(m) {
		p := fmt.Sprintf("%s[%s]", path, sig)
		if !slices.Contains(EvictionSignals, sig) {
			errs = append(errs, unknownSignal(p))
			continue
		}
		if err := validateThreshold(m[sig]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return errs
}

// percentRE is a plain decimal percentage. strconv.ParseFloat alone would
// also take "NaN", "Inf", hexadecimal floats ("0x1p-2") and underscores,
// which pass a 0-100 range check (NaN compares false both ways) but mean
// nothing to a reader.
var percentRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?%$`)

// maxThreshold bounds quantities: more than any lab node has of memory,
// disk, inodes or PIDs. Larger values ("1e400") parse, but the kubelet
// keeps thresholds as int64 and would evict everything at once.
var maxThreshold = resource.MustParse("1Pi")

func validateThreshold(v string) error {
	if strings.HasSuffix(v, "%") {
		if !percentRE.MatchString(v) {
			return fmt.Errorf("%q is not a percentage; write digits from 0%% to 100%%, e.g. 10%% or 7.5%%", v)
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil || f > 100 {
			return fmt.Errorf("%q is not a percentage from 0%% to 100%%", v)
		}
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return fmt.Errorf("%q is neither a quantity nor a percentage; write e.g. 300Mi, 1Gi or 10%%", v)
	}
	if q.Sign() < 0 {
		return fmt.Errorf("%q is negative; thresholds are amounts left free, use 0 or more", v)
	}
	if q.Cmp(maxThreshold) > 0 {
		return fmt.Errorf("%q is more than any node has; use at most %s, e.g. 300Mi, 1Gi or 10%%", v, maxThreshold.String())
	}
	return nil
}

func validateDuration(path, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%s: %q is not a duration; write a Go duration such as \"30s\" or \"1m30s\"", path, v)
	}
	if d < 0 {
		return fmt.Errorf("%s: %q is negative; use 0s or more", path, v)
	}
	return nil
}

func unknownSignal(path string) error {
	return fmt.Errorf("%s: unknown eviction signal; use one of %s", path, strings.Join(EvictionSignals, ", "))
}

func sourceList() string {
	s := make([]string, len(images.Sources))
	for i, src := range images.Sources {
		s[i] = string(src)
	}
	return strings.Join(s, ", ")
}
