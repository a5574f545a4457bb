package profile

import (
	"embed"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Builtins lists the names of the profiles nodelab ships (lab/profile/builtin).
func Builtins() []string {
	ents, _ := builtinFS.ReadDir("builtin")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// LoadBuiltinOrFile loads the built-in profile called arg, or the profile
// file at arg when no built-in has that name or a file by that name exists.
func LoadBuiltinOrFile(arg string) (*Profile, error) {
	if _, err := os.Stat(arg); err == nil || strings.ContainsAny(arg, "/.") {
		return Load(arg)
	}
	data, err := builtinFS.ReadFile(path.Join("builtin", arg+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("load profile: %q is neither a file nor a built-in profile (built-in: %s)", arg, strings.Join(Builtins(), ", "))
	}
	p, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("built-in profile %s: %w", arg, err)
	}
	return p, nil
}
