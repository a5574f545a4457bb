package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// Load reads, decodes, defaults and validates the profile file at path.
func Load(path string) (*Profile, error) {
	data, err := readLimited(path)
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
	if len(data) > MaxBytes {
		return nil, nil, tooBig(len(data))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errEmpty
	}
	if i := binaryAt(data); i >= 0 {
		return nil, nil, fmt.Errorf("profile is not text (binary data at byte %d): a profile is a small YAML file; check the path", i)
	}
	data, err := yaml12(data)
	if err != nil {
		return nil, nil, err
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
	// An explicit empty name is not a missing one: the user meant to name
	// the lab. Only leaving the line out selects the default (README).
	if v, ok := top["name"]; ok && v == "" {
		problems = append(problems, fmt.Errorf(`name: "" is empty; write a lab name such as %s, or remove the line to use the default (%s)`, DefaultName, DefaultName))
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

// MaxBytes bounds a profile file: real ones are a few hundred bytes, so a
// larger file is the wrong file, and reading it whole would be wasteful.
const MaxBytes = 1 << 20

var errEmpty = errors.New("empty profile: write at least apiVersion: " + APIVersion + " and kind: " + Kind)

func tooBig(n int) error {
	return fmt.Errorf("profile is %.1f MiB, more than the %d KiB a profile may have (real ones are a few hundred bytes): check the path", float64(n)/(1<<20), MaxBytes>>10)
}

// readLimited reads at most MaxBytes+1 bytes of the file, so that a huge
// file (or /dev/zero) is refused without being read whole.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxBytes {
		return nil, fmt.Errorf("%s: %w", path, tooBig(int(st.Size())))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%s: %w", path, tooBig(len(data)))
	}
	return data, nil
}

// binaryAt returns the offset of the first NUL byte or invalid UTF-8
// sequence, -1 if the data is text.
func binaryAt(data []byte) int {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return i
	}
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// yaml11Bools are the plain scalars YAML 1.1 (and so the YAML-to-JSON
// converter) reads as booleans, but YAML 1.2, kubectl's newer parsers and
// most readers take for strings: "featureGates: {Foo: yes}" would
// silently enable Foo, and "addons: [on]" would name the addon "true".
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
}

// yaml12 parses data as YAML 1.2 first: it refuses a second document
// (which the converter would silently drop, however it is introduced) and
// quotes the YAML 1.1-only booleans so they stay the strings YAML 1.2 says
// they are; a string where true or false belongs is then refused with its
// path. It returns data unchanged when nothing needed quoting.
func yaml12(data []byte) ([]byte, error) {
	dec := yaml3.NewDecoder(bytes.NewReader(data))
	var docs []*yaml3.Node
	for {
		var n yaml3.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse profile YAML: %w; fix the YAML syntax", err)
		}
		docs = append(docs, &n)
	}
	switch {
	case len(docs) == 0:
		return nil, errEmpty
	case len(docs) > 1:
		return nil, fmt.Errorf("profile holds more than one YAML document (the second starts at line %d): keep one profile per file, without a second \"---\" or \"...\" line", docs[1].Line)
	}
	if !quoteYAML11Bools(docs[0]) {
		return data, nil
	}
	out, err := yaml3.Marshal(docs[0])
	if err != nil {
		return nil, fmt.Errorf("parse profile YAML: %w", err)
	}
	return out, nil
}

// quoteYAML11Bools walks the tree (not through aliases, so an alias bomb
// costs nothing here; the converter refuses it later) and reports whether
// it quoted anything.
func quoteYAML11Bools(n *yaml3.Node) bool {
	changed := false
	if n.Kind == yaml3.ScalarNode && n.Style == 0 && n.Tag == "!!str" && yaml11Bools[n.Value] {
		n.Style = yaml3.DoubleQuotedStyle
		changed = true
	}
	for _, c := range n.Content {
		if quoteYAML11Bools(c) {
			changed = true
		}
	}
	return changed
}
