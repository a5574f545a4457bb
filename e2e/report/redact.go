package report

import "fmt"

// lastApplied is kubectl's client-side apply annotation: a copy of the
// applied manifest, literal env values (and, for a Secret, its data) included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// redactions count what was taken out of the dumps, for index.txt.
type redactions struct {
	envValues, annotations int
}

func (r redactions) String() string {
	return fmt.Sprintf("%d env values and %d annotations redacted", r.envValues, r.annotations)
}

// object cleans one object (as decoded from YAML or unstructured) in
// place: managedFields are dropped, the last-applied annotation is
// replaced, and every literal env value anywhere in it (pods, and pod
// templates of workloads and Chaos Mesh objects) is replaced by its
// length. valueFrom references (secretKeyRef names) are kept: they say
// where a value comes from without holding it.
func (r *redactions) object(obj map[string]any) {
	if md, ok := obj["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		if ann, ok := md["annotations"].(map[string]any); ok {
			if _, ok := ann[lastApplied]; ok {
				ann[lastApplied] = "<redacted by nodelab>"
				r.annotations++
			}
		}
	}
	r.walk(obj)
}

func (r *redactions) walk(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if k == "env" {
				if list, ok := child.([]any); ok {
					r.env(list)
					continue
				}
			}
			r.walk(child)
		}
	case []any:
		for _, child := range t {
			r.walk(child)
		}
	}
}

func (r *redactions) env(list []any) {
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if v, ok := m["value"].(string); ok && v != "" {
			m["value"] = fmt.Sprintf("<redacted by nodelab: literal value, %d bytes>", len(v))
			r.envValues++
		}
	}
}
