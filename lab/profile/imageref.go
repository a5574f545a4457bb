package profile

import (
	"fmt"
	"regexp"
	"strings"
)

// Image reference grammar of the distribution project (what Docker and
// containerd accept), written out here because the module graph has no
// reference parser:
//
//	reference := name [ ":" tag ] [ "@" digest ]
//	name      := [ domain "/" ] path-component [ "/" path-component ]*
var (
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainRE        = domainComponent + `(?:\.` + domainComponent + `)*(?::[0-9]+)?`
	pathComponent   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	imageNameRE     = `(?:` + domainRE + `/)?` + pathComponent + `(?:/` + pathComponent + `)*`
	tagRE           = `[\w][\w.-]{0,127}`
	digestRE        = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	referenceRE     = regexp.MustCompile(`^(` + imageNameRE + `)(?::(` + tagRE + `))?(?:@(` + digestRE + `))?$`)
)

// maxImageNameLength is the distribution project's limit on the name part.
const maxImageNameLength = 255

// parseImageReference reports whether ref is a syntactically valid image
// reference, and why not.
func parseImageReference(ref string) error {
	m := referenceRE.FindStringSubmatch(ref)
	if m == nil {
		if strings.ToLower(ref) != ref && referenceRE.MatchString(strings.ToLower(ref)) {
			return fmt.Errorf("repository names must be lower-case")
		}
		return fmt.Errorf("does not match repository[:tag][@digest]")
	}
	// Like Docker, the first component is a registry host only if it looks
	// like one; otherwise it is part of the (lower-case) path.
	if first, _, found := strings.Cut(m[1], "/"); found && !strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) != first {
		return fmt.Errorf("repository names must be lower-case")
	}
	if len(m[1]) > maxImageNameLength {
		return fmt.Errorf("repository name is longer than %d characters", maxImageNameLength)
	}
	if d := m[3]; strings.HasPrefix(d, "sha256:") && len(d) != len("sha256:")+64 {
		return fmt.Errorf("a sha256 digest has 64 hex digits")
	}
	return nil
}
