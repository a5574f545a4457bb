package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// Load reads, decodes, defaults and validates the profile file at path.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	p, err := Decode(data)
	if err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 1 {
			return nil, fmt.Errorf("load profile %s (%d problems):\n%w", path, len(j.Unwrap()), err)
		}
		return nil, fmt.Errorf("load profile %s: %w", path, err)
	}
	return p, nil
}

// Decode strictly decodes a YAML profile, applies defaults and validates it.
// Like kind's config loading, but reporting every problem rather than the
// first: unknown fields (with their full path), values of the wrong type and
// validation problems come back together in one errors.Join error, one
// problem per line, each naming the field and what to do.
func Decode(data []byte) (*Profile, error) {
	p, problems, err := decode(data)
	if err != nil {
		return nil, err
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		problems = append(problems, err.(interface{ Unwrap() []error }).Unwrap()...)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return p, nil
}

// decode turns YAML into a Profile without defaulting or validating it. It
// returns the field problems found (unknown fields, wrong types, missing
// apiVersion or kind) next to the best-effort decoded profile, so callers can
// still validate the known fields and report everything at once. err is set
// only when the document cannot be read at all.
func decode(data []byte) (*Profile, []error, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errors.New("empty profile: write at least apiVersion: " + APIVersion + " and kind: " + Kind)
	}
	if multiDocument(data) {
		return nil, nil, errors.New("profile holds more than one YAML document: keep one profile per file, without a second ---")
	}
	// YAMLToJSONStrict also rejects duplicate keys, which the plain
	// conversion would silently resolve to the last one.
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, nil, fmt.Errorf("parse profile YAML: %w; fix the YAML syntax", err)
	}
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, nil, fmt.Errorf("parse profile YAML: %w", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("profile must be a YAML mapping with apiVersion: %s and kind: %s, got %s", APIVersion, Kind, describe(doc))
	}

	var problems []error
	clean, _ := checkFields(top, profileType, "", &problems)
	for _, f := range []struct{ name, want string }{{"apiVersion", APIVersion}, {"kind", Kind}} {
		if v, ok := top[f.name]; !ok || v == nil || v == "" {
			problems = append(problems, fmt.Errorf("%s: required; set it to %s", f.name, f.want))
		}
	}

	// What checkFields kept decodes cleanly, so the known fields are
	// validated even when others were wrong: one run reports everything.
	p := &Profile{}
	if err := strictJSON(clean, p); err != nil {
		return nil, nil, fmt.Errorf("decode profile (a bug in nodelab's field check, please report it): %w", err)
	}
	return p, problems, nil
}

// strictJSON decodes the generic value v into out, refusing unknown fields.
func strictJSON(v any, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

// multiDocument reports whether a "---" separator follows content: the
// YAML converter reads only the first document and would silently ignore
// the rest.
func multiDocument(data []byte) bool {
	content := false
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimRight(line, " \t\r")
		switch {
		case t == "---" || strings.HasPrefix(t, "--- "):
			if content {
				return true
			}
		case t != "" && !strings.HasPrefix(strings.TrimSpace(t), "#"):
			content = true
		}
	}
	return false
}
