package redisportforward

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/nodelab/nodelab/fixtures"
)

// inClusterFixture is fix 1's client script, run by a Job as `sh -c`.
const inClusterFixture = "redis-port-forward/in-cluster-client.sh.tmpl"

var inClusterTmpl = template.Must(template.New("in-cluster-client.sh.tmpl").Option("missingkey=error").ParseFS(fixtures.FS, inClusterFixture))

// inClusterParams are the values of the in-cluster client script.
type inClusterParams struct {
	// Host is the redis node the client starts from (redis-cli -c follows
	// its redirects).
	Host string
	// Keys is how many keys incluster:<i> it writes and reads.
	Keys int
}

// inClusterScript writes and reads Keys keys incluster:<i> with redis-cli
// -c, prints the counts, then one line per master with how many incluster:*
// keys it holds (other steps' keys are not counted).
func inClusterScript(host string) (string, error) {
	var b strings.Builder
	if err := inClusterTmpl.Execute(&b, inClusterParams{Host: host, Keys: Keys}); err != nil {
		return "", fmt.Errorf("render %s: %w", inClusterFixture, err)
	}
	return b.String(), nil
}

// inClusterKeysPerMaster parses the script's "master <addr> incluster-keys=<n>" lines.
func inClusterKeysPerMaster(out string) map[string]int {
	per := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "master" {
			continue
		}
		v, ok := strings.CutPrefix(f[2], "incluster-keys=")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil {
			per[f[1]] = n
		}
	}
	return per
}
