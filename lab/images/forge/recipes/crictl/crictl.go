// Package crictl is the core of the forge's crictl stand-in: command-line
// parsing and output formatting for the few crictl commands kind runs in a
// node (inspecti, images, ps, pods). It uses the standard library only, so
// it is unit-tested here; the embedded main.go next to it adds the CRI gRPC
// client and is built into /usr/local/bin/crictl of forge node images,
// because cri-tools is neither in the Go module proxy nor in Debian.
package crictl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// DefaultEndpoint is containerd's CRI socket, the endpoint kind's
// /etc/crictl.yaml names.
const DefaultEndpoint = "unix:///run/containerd/containerd.sock"

// Image is a CRI image.
type Image struct {
	ID          string
	RepoTags    []string
	RepoDigests []string
	Size        uint64
	Username    string
	Pinned      bool
}

// Container is a CRI container.
type Container struct {
	ID, PodID, PodName, Name, Image string
	// State is the CRI enum name (CONTAINER_RUNNING).
	State     string
	Attempt   uint32
	CreatedAt time.Time
}

// Pod is a CRI pod sandbox.
type Pod struct {
	ID, Name, Namespace, RuntimeHandler string
	// State is the CRI enum name (SANDBOX_READY).
	State     string
	Attempt   uint32
	CreatedAt time.Time
}

// Runtime is the part of the CRI the stand-in uses.
type Runtime interface {
	ListImages(ctx context.Context) ([]Image, error)
	// ImageStatus returns nil, nil when ref names no image.
	ImageStatus(ctx context.Context, ref string) (*Image, map[string]string, error)
	ListContainers(ctx context.Context) ([]Container, error)
	ListPods(ctx context.Context) ([]Pod, error)
}

// Env is what Run needs from the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads CONTAINER_RUNTIME_ENDPOINT.
	Getenv func(string) string
	// ReadConfig returns /etc/crictl.yaml (an error when absent).
	ReadConfig func() ([]byte, error)
	// Connect dials the CRI endpoint.
	Connect func(ctx context.Context, endpoint string) (Runtime, error)
	// Now is the clock for the CREATED column.
	Now func() time.Time
}

const usage = `usage: crictl [-r ENDPOINT] COMMAND [FLAGS] [ARGS]

A small stand-in for cri-tools' crictl, with the commands kind uses:
  inspecti IMAGE...   image status as JSON
  images [-q]         list images
  ps [-a] [-q]        list containers (running only unless -a)
  pods [-q]           list pod sandboxes
`

// Run runs one crictl command line (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if err := run(ctx, args, env); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, usage)
			return 0
		}
		fmt.Fprintf(env.Stderr, "crictl: %v\n", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, args []string, env Env) error {
	global := flag.NewFlagSet("crictl", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	endpoint := global.String("runtime-endpoint", "", "CRI endpoint")
	global.StringVar(endpoint, "r", "", "CRI endpoint")
	global.String("image-endpoint", "", "ignored: the runtime endpoint serves images too")
	global.String("i", "", "ignored")
	global.Duration("timeout", 0, "ignored")
	global.Bool("debug", false, "ignored")
	global.Bool("D", false, "ignored")
	if err := global.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	rest := global.Args()
	if len(rest) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	cmd, cmdArgs := rest[0], rest[1:]
	if cmd == "help" || cmd == "--help" || cmd == "-h" {
		return flag.ErrHelp
	}

	fs := flag.NewFlagSet("crictl "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var quiet, all bool
	var output string
	switch cmd {
	case "inspecti":
		fs.StringVar(&output, "o", "json", "output format (json only)")
		fs.StringVar(&output, "output", "json", "output format (json only)")
		fs.BoolVar(&quiet, "q", false, "print the status without the verbose info")
		fs.BoolVar(&quiet, "quiet", false, "print the status without the verbose info")
	case "images", "image", "img":
		cmd = "images"
		fs.BoolVar(&quiet, "q", false, "only image IDs")
		fs.BoolVar(&quiet, "quiet", false, "only image IDs")
	case "ps":
		fs.BoolVar(&all, "a", false, "all containers, not only running ones")
		fs.BoolVar(&all, "all", false, "all containers, not only running ones")
		fs.BoolVar(&quiet, "q", false, "only container IDs")
		fs.BoolVar(&quiet, "quiet", false, "only container IDs")
	case "pods":
		fs.BoolVar(&quiet, "q", false, "only pod IDs")
		fs.BoolVar(&quiet, "quiet", false, "only pod IDs")
	default:
		return fmt.Errorf("unknown command %q (this stand-in has inspecti, images, ps, pods)\n%s", cmd, usage)
	}
	if err := fs.Parse(cmdArgs); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if output != "" && output != "json" {
		return fmt.Errorf("inspecti: output %q not supported (json only)", output)
	}

	ep := ResolveEndpoint(*endpoint, env.Getenv, env.ReadConfig)
	rt, err := env.Connect(ctx, ep)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", ep, err)
	}
	switch cmd {
	case "inspecti":
		if fs.NArg() == 0 {
			return errors.New("inspecti: name an image")
		}
		for _, ref := range fs.Args() {
			img, info, err := rt.ImageStatus(ctx, ref)
			if err != nil {
				return fmt.Errorf("image status of %q: %w", ref, err)
			}
			if img == nil {
				return fmt.Errorf("no such image %q present", ref)
			}
			if quiet {
				info = nil
			}
			if err := WriteInspectImage(env.Stdout, *img, info); err != nil {
				return err
			}
		}
		return nil
	case "images":
		imgs, err := rt.ListImages(ctx)
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		return WriteImages(env.Stdout, imgs, quiet)
	case "ps":
		cs, err := rt.ListContainers(ctx)
		if err != nil {
			return fmt.Errorf("list containers: %w", err)
		}
		return WriteContainers(env.Stdout, cs, all, quiet, env.Now())
	default: // pods
		ps, err := rt.ListPods(ctx)
		if err != nil {
			return fmt.Errorf("list pods: %w", err)
		}
		return WritePods(env.Stdout, ps, quiet, env.Now())
	}
}

// ResolveEndpoint picks the CRI endpoint like crictl: the flag, then
// CONTAINER_RUNTIME_ENDPOINT, then runtime-endpoint in /etc/crictl.yaml,
// then containerd's socket.
func ResolveEndpoint(flagValue string, getenv func(string) string, readConfig func() ([]byte, error)) string {
	if flagValue != "" {
		return flagValue
	}
	if getenv != nil {
		if v := getenv("CONTAINER_RUNTIME_ENDPOINT"); v != "" {
			return v
		}
	}
	if readConfig != nil {
		if b, err := readConfig(); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(line, ":")
				if ok && strings.TrimSpace(k) == "runtime-endpoint" {
					if v = strings.Trim(strings.TrimSpace(v), `"'`); v != "" {
						return v
					}
				}
			}
		}
	}
	return DefaultEndpoint
}

// inspectImage is crictl's inspecti JSON: the CRI image in protobuf JSON
// field names (size is a string, as protojson prints uint64), plus info.
type inspectImage struct {
	Status struct {
		ID          string   `json:"id"`
		RepoTags    []string `json:"repoTags"`
		RepoDigests []string `json:"repoDigests"`
		Size        string   `json:"size"`
		Username    string   `json:"username"`
		Pinned      bool     `json:"pinned"`
	} `json:"status"`
	Info map[string]json.RawMessage `json:"info,omitempty"`
}

// WriteInspectImage prints one image the way `crictl inspecti` does. Info
// values that hold JSON are embedded as JSON, others as strings.
func WriteInspectImage(w io.Writer, img Image, info map[string]string) error {
	var out inspectImage
	out.Status.ID = img.ID
	out.Status.RepoTags = nonNil(img.RepoTags)
	out.Status.RepoDigests = nonNil(img.RepoDigests)
	out.Status.Size = fmt.Sprint(img.Size)
	out.Status.Username = img.Username
	out.Status.Pinned = img.Pinned
	if len(info) > 0 {
		out.Info = map[string]json.RawMessage{}
		for k, v := range info {
			if json.Valid([]byte(v)) {
				out.Info[k] = json.RawMessage(v)
			} else {
				b, _ := json.Marshal(v)
				out.Info[k] = b
			}
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image status: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// table is crictl's column layout.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 20, 1, 3, ' ', 0) }

// WriteImages prints `crictl images`: one row per tag (or per digest for an
// untagged image), sorted by reference; quiet prints only full IDs.
func WriteImages(w io.Writer, imgs []Image, quiet bool) error {
	imgs = append([]Image(nil), imgs...)
	sort.SliceStable(imgs, func(i, j int) bool { return firstRef(imgs[i]) < firstRef(imgs[j]) })
	if quiet {
		for _, img := range imgs {
			fmt.Fprintln(w, img.ID)
		}
		return nil
	}
	tw := table(w)
	fmt.Fprintln(tw, "IMAGE\tTAG\tIMAGE ID\tSIZE")
	for _, img := range imgs {
		id := TruncateID(img.ID)
		size := HumanSize(img.Size)
		rows := 0
		for _, t := range img.RepoTags {
			repo, tag := splitTag(t)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", repo, tag, id, size)
			rows++
		}
		if rows == 0 {
			repo := "<none>"
			if len(img.RepoDigests) > 0 {
				repo, _, _ = strings.Cut(img.RepoDigests[0], "@")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", repo, "<none>", id, size)
		}
	}
	return tw.Flush()
}

func firstRef(img Image) string {
	if len(img.RepoTags) > 0 {
		return img.RepoTags[0]
	}
	if len(img.RepoDigests) > 0 {
		return img.RepoDigests[0]
	}
	return img.ID
}

// splitTag splits "host:5000/repo:tag" at the tag's colon, not the port's.
func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "<none>"
	}
	return ref[:i], ref[i+1:]
}

// WriteContainers prints `crictl ps`, newest first; without all only
// running containers.
func WriteContainers(w io.Writer, cs []Container, all, quiet bool, now time.Time) error {
	var shown []Container
	for _, c := range cs {
		if all || c.State == "CONTAINER_RUNNING" {
			shown = append(shown, c)
		}
	}
	sort.SliceStable(shown, func(i, j int) bool { return shown[i].CreatedAt.After(shown[j].CreatedAt) })
	if quiet {
		for _, c := range shown {
			fmt.Fprintln(w, c.ID)
		}
		return nil
	}
	tw := table(w)
	fmt.Fprintln(tw, "CONTAINER\tIMAGE\tCREATED\tSTATE\tNAME\tATTEMPT\tPOD ID\tPOD")
	for _, c := range shown {
		img := c.Image
		if strings.HasPrefix(img, "sha256:") {
			img = TruncateID(img)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", TruncateID(c.ID), img, Ago(now, c.CreatedAt),
			StateName(c.State), c.Name, c.Attempt, TruncateID(c.PodID), c.PodName)
	}
	return tw.Flush()
}

// WritePods prints `crictl pods`, newest first.
func WritePods(w io.Writer, ps []Pod, quiet bool, now time.Time) error {
	ps = append([]Pod(nil), ps...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].CreatedAt.After(ps[j].CreatedAt) })
	if quiet {
		for _, p := range ps {
			fmt.Fprintln(w, p.ID)
		}
		return nil
	}
	tw := table(w)
	fmt.Fprintln(tw, "POD ID\tCREATED\tSTATE\tNAME\tNAMESPACE\tATTEMPT\tRUNTIME")
	for _, p := range ps {
		rt := p.RuntimeHandler
		if rt == "" {
			rt = "(default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", TruncateID(p.ID), Ago(now, p.CreatedAt),
			StateName(p.State), p.Name, p.Namespace, p.Attempt, rt)
	}
	return tw.Flush()
}

// TruncateID shortens an ID to crictl's 13 characters, without "sha256:".
func TruncateID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

// StateName turns a CRI enum name into crictl's word: CONTAINER_RUNNING →
// Running, SANDBOX_NOTREADY → NotReady.
func StateName(enum string) string {
	switch enum {
	case "SANDBOX_READY":
		return "Ready"
	case "SANDBOX_NOTREADY":
		return "NotReady"
	}
	s := strings.TrimPrefix(enum, "CONTAINER_")
	if s == "" {
		return "Unknown"
	}
	return s[:1] + strings.ToLower(s[1:])
}

// HumanSize prints a size with 3 significant digits and decimal units, as
// docker/go-units HumanSizeWithPrecision(size, 3) does.
func HumanSize(size uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(size)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.*g%s", 3, f, units[i])
}

// Ago prints how long ago t was, in docker/go-units HumanDuration words.
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	seconds := int(d.Seconds())
	var s string
	switch {
	case seconds < 1:
		s = "Less than a second"
	case seconds == 1:
		s = "1 second"
	case seconds < 60:
		s = fmt.Sprintf("%d seconds", seconds)
	case int(d.Minutes()) == 1:
		s = "About a minute"
	case int(d.Minutes()) < 60:
		s = fmt.Sprintf("%d minutes", int(d.Minutes()))
	case int(d.Hours()+0.5) == 1:
		s = "About an hour"
	case int(d.Hours()+0.5) < 48:
		s = fmt.Sprintf("%d hours", int(d.Hours()+0.5))
	case int(d.Hours()+0.5) < 24*7*2:
		s = fmt.Sprintf("%d days", int(d.Hours()+0.5)/24)
	case int(d.Hours()+0.5) < 24*30*2:
		s = fmt.Sprintf("%d weeks", int(d.Hours()+0.5)/24/7)
	case int(d.Hours()+0.5) < 24*365*2:
		s = fmt.Sprintf("%d months", int(d.Hours()+0.5)/24/30)
	default:
		s = fmt.Sprintf("%d years", int(d.Hours())/24/365)
	}
	return s + " ago"
}
