package app

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/images/forge"
)

func newImages(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "list or build (offline) the images a lab needs",
	}
	var pf profileFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "every image the profile needs: upstream reference and forge reference",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := pf.load()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tUPSTREAM\tFORGE\tWHERE")
			for _, im := range images.ForSource(p.ImageSource) {
				where, upstream := "loaded into nodes", im.Upstream
				switch {
				case im.Preloaded:
					// kind's node image carries its own components (its
					// Kubernetes release, kindnetd rather than flannel).
					where, upstream = "preloaded in the forge node image", "(in kindest/node "+images.UpstreamKubernetesVersion+": its own)"
					if strings.HasPrefix(im.Name, "flannel") {
						upstream = "(none: kindest/node's pod network is kindnetd)"
					}
				case im.Name == "node":
					where = fmt.Sprintf("node container image (Kubernetes %s upstream, %s forge)", images.UpstreamKubernetesVersion, images.KubernetesVersion)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", im.Name, upstream, im.Forge, where)
			}
			for _, im := range images.AddonImages() {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", im.Name, im.Upstream, im.Forge, "addon, on demand (images build --image "+im.Name+")")
			}
			return w.Flush()
		},
	}
	pf.add(list)
	var extra []string
	build := &cobra.Command{
		Use:   "build",
		Short: "build every image from Go modules and Debian packages into the local Docker engine (no registry needed)",
		Long: `Build every forge image: Kubernetes ` + images.KubernetesVersion + ` and addon binaries from the Go
module proxy, the node OS from Debian ` + images.DebianSuite + ` (debootstrap), then the component
images and the node image. Each artifact is labelled with a hash of its inputs:
a build with nothing changed only checks them. Work files live in
$XDG_CACHE_HOME/nodelab/forge; each step's log is kept there.
--image NAME also builds an addon image (see 'nodelab images list');
labs build those on demand anyway.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var addonImgs []images.Image
			for _, name := range extra {
				im, ok := findAddonImage(name)
				if !ok {
					return usagef("unknown addon image %q: see 'nodelab images list'", name)
				}
				addonImgs = append(addonImgs, im)
			}
			f, err := g.forge()
			if err != nil {
				return err
			}
			res, err := f.Build(cmd.Context())
			if err == nil && len(addonImgs) > 0 {
				err = f.BuildImages(cmd.Context(), addonImgs...)
			}
			if err != nil {
				return err
			}
			if res.UpToDate {
				fmt.Fprintf(g.stdout, "%s is up to date: it and the workload images carry this checkout's inputs keys (no step ran for them)\n", res.NodeImage)
				return nil
			}
			cached := 0
			for _, s := range res.Steps {
				if s.Cached {
					cached++
				}
			}
			fmt.Fprintf(g.stdout, "built %s in %s (%d of %d steps up to date)\n", res.NodeImage, res.Total.Round(1e9), cached, len(res.Steps))
			return nil
		},
	}
	build.Flags().StringArrayVar(&extra, "image", nil, "also build this addon image (repeatable)")
	profile := &cobra.Command{
		Use:   "profile",
		Short: "what each forge step cost when it last ran: wall time, CPU time, and for Go builds what compiled, what came from the build cache, and linking",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.forge()
			if err != nil {
				return err
			}
			costs, err := f.Costs()
			if err != nil {
				return err
			}
			if len(costs) == 0 {
				fmt.Fprintln(g.stdout, "no forge step has run on this machine yet: run 'nodelab images build' (or make e2e) first")
				return nil
			}
			return writeCosts(g.stdout, costs)
		},
	}
	var saveTo string
	save := &cobra.Command{
		Use:   "save -o FILE",
		Short: "write every forge image built here and up to date (node, workloads, addons) into one archive, for machines that should load rather than build",
		Long: `Write one archive with every forge image that is in the local engine and
built from this checkout's inputs: the node image, the workload images and
every addon image built so far (build more first with 'nodelab images build
--image NAME'). Each image carries the key of its inputs, so on a machine
that loads the archive (nodelab images load) nothing is rebuilt while its
checkout has the same inputs, and a newer checkout names the stale images.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if saveTo == "" {
				return usagef("images save needs -o FILE")
			}
			f, err := g.forge()
			if err != nil {
				return err
			}
			m, skipped, err := f.Save(cmd.Context(), saveTo)
			for _, st := range skipped {
				fmt.Fprintf(g.stderr, "not saved: %s\n", st)
			}
			if err != nil {
				return err
			}
			size := ""
			if st, err := os.Stat(saveTo); err == nil {
				size = fmt.Sprintf(" (%d MB)", st.Size()>>20)
			}
			fmt.Fprintf(g.stdout, "saved %d images to %s%s:\n", len(m.Images), saveTo, size)
			for _, im := range m.Images {
				fmt.Fprintf(g.stdout, "  %s\n", im.Ref)
			}
			return nil
		},
	}
	save.Flags().StringVarP(&saveTo, "output", "o", "", "archive to write")
	var loadFrom string
	load := &cobra.Command{
		Use:   "load -i FILE",
		Short: "load an archive made by 'nodelab images save' and say which images are up to date for this checkout and which are stale",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if loadFrom == "" {
				return usagef("images load needs -i FILE")
			}
			f, err := g.forge()
			if err != nil {
				return err
			}
			m, states, err := f.Load(cmd.Context(), loadFrom)
			if err != nil {
				return err
			}
			stale := 0
			fmt.Fprintf(g.stdout, "loaded %d images from %s (saved %s):\n", len(m.Images), loadFrom, m.Created.Format(time.RFC3339))
			for _, st := range states {
				if !st.Current() {
					stale++
				}
				fmt.Fprintf(g.stdout, "  %s\n", st)
			}
			if stale > 0 {
				fmt.Fprintf(g.stdout, "%d of %d images do not match this checkout: labs build those again\n", stale, len(states))
			}
			return nil
		},
	}
	load.Flags().StringVarP(&loadFrom, "input", "i", "", "archive to load")
	var pushTo string
	push := &cobra.Command{
		Use:   "push --to REGISTRY",
		Short: "push every forge image built here and up to date to a registry, for clusters that pull (nodelab.local/echo:v1 → REGISTRY/echo:v1)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.forge()
			if err != nil {
				return err
			}
			pushed, skipped, err := f.Push(cmd.Context(), pushTo)
			for _, p := range pushed {
				fmt.Fprintf(g.stdout, "pushed %s as %s\n", p.Ref, p.Target)
			}
			for _, st := range skipped {
				fmt.Fprintf(g.stderr, "not pushed: %s\n", st)
			}
			return err
		},
	}
	push.Flags().StringVar(&pushTo, "to", "", "registry HOST[:PORT][/PATH] (credentials from docker login)")
	cmd.AddCommand(list, build, profile, save, load, push)
	return cmd
}

// writeCosts prints the cost profile: one row per step in the order they
// started, offsets from the first start (steps overlap: Go builds beside
// debootstrap, addon images beside specs). WAIT is a Go step's wait for
// its build slot (Go builds take turns so shared packages compile once);
// CORES is CPU over the wall time without that wait.
func writeCosts(out io.Writer, costs []forge.StepCost) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STEP\tSTART\tWALL\tWAIT\tCPU\tCORES\tGO PKGS COMPILED/CACHED\tCOMPILE CPU\tLINKS\tLINK CPU\tLINK WALL")
	t0 := costs[0].Started
	dur := func(d time.Duration) string { return d.Round(time.Second).String() }
	for _, c := range costs {
		row := []string{c.Name, "+" + dur(c.Started.Sub(t0)), dur(c.Wall), "-", "-", "-", "-", "-", "-", "-", "-"}
		if u := c.Usage; u != nil {
			busy := c.Wall
			if wait, ok := u.Phases["wait"]; ok {
				row[3] = dur(wait)
				busy -= wait
			}
			row[4] = dur(u.CPU)
			if busy > 0 {
				row[5] = fmt.Sprintf("%.2f", u.CPU.Seconds()/busy.Seconds())
			}
			if gu := u.Go; gu != nil {
				row[6] = fmt.Sprintf("%d/%d", gu.Compiled, gu.Cached)
				row[7] = dur(gu.CompileCPU)
				row[8] = fmt.Sprint(gu.Links)
				row[9] = dur(gu.LinkCPU)
				row[10] = dur(gu.LinkWall)
			}
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	return w.Flush()
}

func findAddonImage(name string) (images.Image, bool) {
	for _, im := range images.AddonImages() {
		if im.Name == name {
			return im, true
		}
	}
	return images.Image{}, false
}
