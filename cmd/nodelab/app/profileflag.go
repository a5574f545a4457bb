package app

import (
	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/lab/profile"
)

// profileFlags select a profile and override its name.
type profileFlags struct {
	path string
	name string
}

func (p *profileFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&p.path, "profile", "p", "", "profile file, or a built-in profile by name (multus); default: the embedded default profile, 1 control plane + 2 workers")
	cmd.Flags().StringVar(&p.name, "name", "", "lab name (overrides the profile's name)")
}

// load returns the profile; a broken profile is a usage error.
func (p *profileFlags) load() (*profile.Profile, error) {
	var prof *profile.Profile
	if p.path == "" {
		prof = profile.Default()
	} else {
		var err error
		if prof, err = profile.LoadBuiltinOrFile(p.path); err != nil {
			return nil, usageError{err}
		}
	}
	if p.name != "" {
		prof.Name = p.name
	}
	prof.SetDefaults()
	if err := prof.Validate(); err != nil {
		return nil, usagef("profile %s:\n%w", p.path, err)
	}
	return prof, nil
}

// labName is the lab a verb acts on: --name, else the profile's name.
func (p *profileFlags) labName() (string, error) {
	if p.name != "" {
		return p.name, nil
	}
	prof, err := p.load()
	if err != nil {
		return "", err
	}
	return prof.Name, nil
}
