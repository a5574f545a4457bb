package profile

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

var profileType = reflect.TypeFor[Profile]()

// jsonFields maps the json names of a struct type's fields to their types,
// in declaration order.
func jsonFields(t reflect.Type) (names []string, types map[string]reflect.Type) {
	types = map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

// jsonName is the key a struct field has in JSON and YAML, "" if none.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// checkFields walks a generic JSON value against the Go type t and records
// every unknown field and every value of the wrong type, with its path, so
// that one run reports them all (encoding/json stops at the first unknown
// field and reports only the first type error). It returns the value with
// those problems removed, so that decoding it cannot trip over them again:
// unknown keys and values of the wrong type are dropped, except that a
// number or boolean where a string belongs is kept as its text, so the
// validation that follows still sees what the user wrote. encoding/json
// matches keys case-insensitively, so dropping unknown keys also keeps
// "EvictionSoft" from silently filling evictionSoft.
func checkFields(v any, t reflect.Type, path string, problems *[]error) (clean any, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return checkNull(t, path, problems)
	}
	bad := func(want string) (any, bool) {
		*problems = append(*problems, typeProblem(path, want, v))
		return nil, false
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a mapping")
		}
		names, types := jsonFields(t)
		out := map[string]any{}
		for _, key := range sortedKeys(m) {
			ft, known := types[key]
			if !known {
				*problems = append(*problems, unknownField(join(path, key), key, names))
				continue
			}
			if c, ok := checkFields(m[key], ft, join(path, key), problems); ok {
				out[key] = c
			}
		}
		return out, true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a mapping")
		}
		out := map[string]any{}
		for _, key := range sortedKeys(m) {
			if c, ok := checkFields(m[key], t.Elem(), fmt.Sprintf("%s[%s]", path, key), problems); ok {
				out[key] = c
			}
		}
		return out, true
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return bad("a list")
		}
		out := make([]any, 0, len(s))
		for i, e := range s {
			if c, ok := checkFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems); ok {
				out = append(out, c)
			}
		}
		return out, true
	case reflect.String:
		switch v := v.(type) {
		case string:
			if v == "" && hasDefault(path) && path != "name" { // decode explains an empty name
				*problems = append(*problems, fmt.Errorf(`%s: "" is empty; write a value, or remove the line to use the default`, path))
				return nil, false
			}
			return v, true
		case float64, bool:
			text := fmt.Sprint(v)
			*problems = append(*problems, fmt.Errorf("%w; quote it (%q)", typeProblem(path, "a string", v), text))
			return text, true
		}
		return bad("a string")
	case reflect.Int, reflect.Int32, reflect.Int64:
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			return v, true
		}
		return bad("a whole number")
	case reflect.Bool:
		if _, ok := v.(bool); ok {
			return v, true
		}
		return bad("true or false")
	}
	return v, true
}

// checkNull handles an explicit null (or a key with nothing after it). For
// a section (mapping or list) it means empty, as if left out. For a single
// value it is refused: "workers: null" or "featureGates: {Foo: null}" look
// deliberate, yet would silently become the default or false; only leaving
// the line out selects a default (README "Profiles").
func checkNull(t reflect.Type, path string, problems *[]error) (any, bool) {
	var want string
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		return nil, true
	case reflect.String:
		want = "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		want = "a whole number"
	case reflect.Bool:
		want = "true or false"
	default:
		return nil, true
	}
	if path == "apiVersion" || path == "kind" {
		return nil, true // decode reports them as required, with the value to set
	}
	if hasDefault(path) {
		*problems = append(*problems, fmt.Errorf("%s: null is not %s; write one, or remove the line to use the default", path, want))
	} else {
		*problems = append(*problems, fmt.Errorf("%s: null is not %s; write one, or remove the entry", path, want))
	}
	return nil, false
}

// hasDefault reports whether path names a field (which a default fills when
// the line is left out) rather than a map entry or list element.
func hasDefault(path string) bool {
	return path != "apiVersion" && path != "kind" && !strings.HasSuffix(path, "]")
}

func typeProblem(path, want string, got any) error {
	return fmt.Errorf("%s: expected %s, got %s", path, want, describe(got))
}

func unknownField(path, key string, known []string) error {
	if s := closest(key, known); s != "" {
		return fmt.Errorf("%s: unknown field; did you mean %q?", path, s)
	}
	return fmt.Errorf("%s: unknown field; remove it (known fields here: %s)", path, strings.Join(known, ", "))
}

// describe names a generic JSON value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("string %q", v)
	case float64:
		return fmt.Sprintf("number %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// closest returns the known name within a small edit distance of key (or
// equal ignoring case), "" if none is close enough to be a likely typo.
func closest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Damerau (optimal string alignment) distance, so a
// swap of two letters ("evictionHrad") counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
