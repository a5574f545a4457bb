package profile

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

//go:embed default.yaml
var defaultYAML []byte

// Default returns a new copy of nodelab's default profile (default.yaml):
// one control plane and two workers, images from the auto source, and
// kubelet eviction thresholds that keep a kind node from evicting pods
// because the laptop's disk is busy.
func Default() *Profile {
	return parsedDefault().DeepCopy()
}

var parsedDefault = sync.OnceValue(func() *Profile {
	p, problems, err := decode(defaultYAML)
	if err == nil && len(problems) == 0 {
		err = p.Validate()
	} else if err == nil {
		err = errors.Join(problems...)
	}
	if err != nil {
		// default.yaml is embedded and covered by TestDefault.
		panic(fmt.Sprintf("profile: embedded default.yaml is invalid: %v", err))
	}
	return p
})

// SetDefaults fills every field the profile leaves unset from Default().
// Eviction maps are filled only when absent: an explicit empty map
// (`evictionHard: {}`) keeps the kubelet's own defaults. The soft thresholds
// and their grace periods are defaulted together, never one without the
// other.
func (p *Profile) SetDefaults() {
	d := Default()
	if p.APIVersion == "" {
		p.APIVersion = d.APIVersion
	}
	if p.Kind == "" {
		p.Kind = d.Kind
	}
	if p.Name == "" {
		p.Name = d.Name
	}
	if p.Workers == nil {
		p.Workers = d.Workers
	}
	if p.ImageSource == "" {
		p.ImageSource = d.ImageSource
	}
	k := &p.Kubelet
	if k.EvictionHard == nil {
		k.EvictionHard = d.Kubelet.EvictionHard
	}
	if k.EvictionSoft == nil && k.EvictionSoftGracePeriod == nil {
		k.EvictionSoft = d.Kubelet.EvictionSoft
		k.EvictionSoftGracePeriod = d.Kubelet.EvictionSoftGracePeriod
	}
}

// DeepCopy returns a copy of p that shares no maps, slices or pointers with it.
func (p *Profile) DeepCopy() *Profile {
	if p == nil {
		return nil
	}
	c := *p
	if p.Workers != nil {
		w := *p.Workers
		c.Workers = &w
	}
	c.Kubelet.EvictionHard = maps.Clone(p.Kubelet.EvictionHard)
	c.Kubelet.EvictionSoft = maps.Clone(p.Kubelet.EvictionSoft)
	c.Kubelet.EvictionSoftGracePeriod = maps.Clone(p.Kubelet.EvictionSoftGracePeriod)
	c.Kubelet.FeatureGates = maps.Clone(p.Kubelet.FeatureGates)
	c.Addons = slices.Clone(p.Addons)
	return &c
}
