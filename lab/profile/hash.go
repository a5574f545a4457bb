package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Hash is a stable digest of the canonical, defaulted profile: two profiles
// that produce the same lab hash the same, whatever fields they left to
// defaults and however their YAML was laid out. It is 16 hex digits, short
// enough for a label value, and is recorded on a lab so that reusing it
// from a different profile can be refused (see Diff for what differs).
func (p *Profile) Hash() string {
	c := p.DeepCopy()
	c.SetDefaults()
	// encoding/json writes struct fields in declaration order and map keys
	// sorted, and omitempty keeps a newly added, unset field from changing
	// the hash of existing labs.
	data, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("profile: marshal for hash: %v", err)) // plain strings, ints and maps cannot fail
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Diff lists, one human-readable line per field, how the defaulted profile b
// differs from the defaulted profile a, in field order, e.g.
//
//	workers: 2 → 3
//	kubelet.evictionHard[memory.available]: 300Mi → (unset)
//
// It returns nil when both describe the same lab.
func Diff(a, b *Profile) []string {
	fa, fb := flatten(a), flatten(b)
	keys := map[string]string{} // path → sort key
	for _, f := range [][]field{fa, fb} {
		for _, e := range f {
			keys[e.path] = e.order
		}
	}
	va, vb := values(fa), values(fb)
	paths := make([]string, 0, len(keys))
	for path := range keys {
		if va[path] != vb[path] {
			paths = append(paths, path)
		}
	}
	sort.Slice(paths, func(i, j int) bool { return keys[paths[i]] < keys[paths[j]] })
	var lines []string
	for _, path := range paths {
		lines = append(lines, fmt.Sprintf("%s: %s → %s", path, orUnset(va[path]), orUnset(vb[path])))
	}
	return lines
}

// field is one leaf of a flattened profile.
type field struct {
	path  string // kubelet.evictionHard[memory.available]
	order string // sorts leaves in struct declaration order, then by map key
	value string
}

func flatten(p *Profile) []field {
	c := p.DeepCopy()
	if c == nil {
		c = &Profile{}
	}
	c.SetDefaults()
	var out []field
	flattenValue(reflect.ValueOf(c).Elem(), "", "", &out)
	return out
}

func flattenValue(v reflect.Value, path, order string, out *[]field) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			flattenValue(v.Elem(), path, order, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if n := jsonName(t.Field(i)); n != "" {
				flattenValue(v.Field(i), join(path, n), fmt.Sprintf("%s%03d/", order, i), out)
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			flattenValue(v.MapIndex(k), fmt.Sprintf("%s[%s]", path, k), order+k.String()+"/", out)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return
		}
		items := make([]string, v.Len())
		for i := range items {
			items[i] = fmt.Sprint(v.Index(i).Interface())
		}
		*out = append(*out, field{path, order, "[" + strings.Join(items, ", ") + "]"})
	default:
		if !v.IsZero() || v.Kind() == reflect.Bool || v.Kind() == reflect.Int {
			*out = append(*out, field{path, order, fmt.Sprint(v.Interface())})
		}
	}
}

func values(fs []field) map[string]string {
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.path] = f.value
	}
	return m
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}
