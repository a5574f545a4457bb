package forge

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/images"
)

// An images archive (nodelab images save / load) is a tar file with two
// entries: archiveManifestName, which names every image with the inputs key
// it was built from, then archiveImagesName, the `docker save` of all of
// them (layers they share are stored once). A machine that loads it builds
// none of these images while its recipe gives the same keys; the keys are
// the images' InputsLabel, so a loaded image is up to date exactly as a
// built one is.
const (
	archiveManifestName = "nodelab-images.json"
	archiveImagesName   = "docker-images.tar"
	archiveFormat       = 1
)

// ArchiveManifest is the table of contents of an images archive.
type ArchiveManifest struct {
	Format  int             `json:"format"`
	Created time.Time       `json:"created"`
	Images  []ArchivedImage `json:"images"`
}

// ArchivedImage is one image in an archive.
type ArchivedImage struct {
	// Name is images.Image.Name ("node", "chaos-daemon").
	Name string `json:"name"`
	Ref  string `json:"ref"`
	// Key is the image's InputsLabel when it was saved.
	Key string `json:"key"`
}

// ImageState says whether an image in the local engine matches this
// checkout's recipe.
type ImageState struct {
	Image images.Image
	// Key is the image's InputsLabel ("" when the engine lacks the image).
	Key string
	// Want is the key the recipe gives now ("" when it could not be
	// computed: see Err).
	Want string
	Err  error
}

// Current reports whether the image is present with the recipe's key.
func (s ImageState) Current() bool { return s.Err == nil && s.Key != "" && s.Key == s.Want }

// String is one line for people: "chaos-daemon nodelab.local/...: up to date".
func (s ImageState) String() string {
	switch {
	case s.Err != nil && s.Key == "":
		return fmt.Sprintf("%s: not in the local engine (%s builds it)", s.Image.Forge, buildCommand(s.Image))
	case s.Err != nil:
		return fmt.Sprintf("%s: inputs not checked (%v; set GOPROXY or fill the module cache to check them)", s.Image.Forge, s.Err)
	case s.Key == s.Want:
		return fmt.Sprintf("%s: up to date", s.Image.Forge)
	default:
		return fmt.Sprintf("%s: STALE: built from other inputs (image %s, this checkout's recipe %s); 'nodelab images build' (with --image %s for an addon image) rebuilds it",
			s.Image.Forge, s.Key, s.Want, s.Image.Name)
	}
}

// travelImages are the images an archive can carry: the node image, the
// workload images labs load (their keys need no network), and every addon
// image with a recipe.
func travelImages() []images.Image {
	out := []images.Image{{Name: "node", Forge: images.ForgeNodeImage}}
	out = append(out, images.Workloads()...)
	for _, img := range images.AddonImages() {
		if CanBuild(img) {
			out = append(out, img)
		}
	}
	return out
}

// wantKey is the InputsLabel this checkout's recipe gives an image. For
// addon images it evaluates the recipe, which may need the module proxy
// (or the module cache) for the sums of the modules it builds.
func (f *Forge) wantKey(ctx context.Context, img images.Image) (string, error) {
	switch {
	case img.Name == "node":
		return nodeKey()
	case CanBuild(img):
		recipe, _ := addonRecipeFor(img.Name)
		steps, err := recipe(ctx, f, img)
		if err != nil {
			return "", err
		}
		return steps[len(steps)-1].key, nil
	default:
		return componentKey(img)
	}
}

// States checks every image an archive can carry against this checkout.
func (f *Forge) States(ctx context.Context) []ImageState {
	var out []ImageState
	for _, img := range travelImages() {
		st := ImageState{Image: img}
		key, err := imageLabel(ctx, img.Forge)
		switch {
		case errors.Is(err, errNoImage):
			st.Err = errNoImage
		case err != nil:
			st.Err = err
		default:
			st.Key = key
			st.Want, st.Err = f.wantKey(ctx, img)
		}
		out = append(out, st)
	}
	return out
}

// Save writes every forge image that is in the local engine and up to date
// into one archive at path, and returns its manifest. Images that are
// missing or stale are left out and listed in skipped.
func (f *Forge) Save(ctx context.Context, path string) (m ArchiveManifest, skipped []ImageState, err error) {
	m = ArchiveManifest{Format: archiveFormat, Created: time.Now().UTC()}
	var refs []string
	for _, st := range f.States(ctx) {
		if !st.Current() {
			skipped = append(skipped, st)
			continue
		}
		m.Images = append(m.Images, ArchivedImage{Name: st.Image.Name, Ref: st.Image.Forge, Key: st.Key})
		refs = append(refs, st.Image.Forge)
	}
	if len(refs) == 0 {
		return m, skipped, fmt.Errorf("no forge image is built and up to date here: run 'nodelab images build' (and --image NAME for addon images) first")
	}
	dir := filepath.Dir(path)
	saved, err := os.CreateTemp(dir, ".nodelab-images-*.tar")
	if err != nil {
		return m, skipped, fmt.Errorf("save images: %w", err)
	}
	defer os.Remove(saved.Name())
	defer saved.Close()
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, refs...)...)
	save.Stdout = saved
	var stderr strings.Builder
	save.Stderr = &stderr
	if err := save.Run(); err != nil {
		return m, skipped, fmt.Errorf("docker save: %w: %s (is the engine up (docker info), and is there room for the archive?)", err, strings.TrimSpace(stderr.String()))
	}
	if err := writeArchiveFile(path, m, saved); err != nil {
		return m, skipped, err
	}
	return m, skipped, nil
}

// writeArchiveFile writes the outer tar: manifest first, so Load can say
// what it is loading before it reads the images.
func writeArchiveFile(path string, m ArchiveManifest, saved *os.File) (err error) {
	st, err := saved.Stat()
	if err != nil {
		return err
	}
	if _, err := saved.Seek(0, io.SeekStart); err != nil {
		return err
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	tw := tar.NewWriter(out)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Name: archiveManifestName, Mode: 0o644, Size: int64(len(manifest)), ModTime: now}); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: archiveImagesName, Mode: 0o644, Size: st.Size(), ModTime: now}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, saved); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load loads an images archive into the local engine and checks each
// image it carried against this checkout's recipe: the states say which
// are up to date (nothing will rebuild them) and which are stale.
func (f *Forge) Load(ctx context.Context, path string) (ArchiveManifest, []ImageState, error) {
	var m ArchiveManifest
	fh, err := os.Open(path)
	if err != nil {
		return m, nil, fmt.Errorf("open images archive: %w", err)
	}
	defer fh.Close()
	tr := tar.NewReader(fh)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != archiveManifestName {
		return m, nil, fmt.Errorf("%s is not a nodelab images archive (no %s first; make one with 'nodelab images save -o FILE')", path, archiveManifestName)
	}
	raw, err := io.ReadAll(io.LimitReader(tr, 1<<20))
	if err != nil {
		return m, nil, fmt.Errorf("read %s: %w", archiveManifestName, err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, nil, fmt.Errorf("%s in %s is not valid: %w", archiveManifestName, path, err)
	}
	if m.Format != archiveFormat {
		return m, nil, fmt.Errorf("%s is images archive format %d; this nodelab reads format %d", path, m.Format, archiveFormat)
	}
	hdr, err = tr.Next()
	if err != nil || hdr.Name != archiveImagesName {
		return m, nil, fmt.Errorf("%s has no %s after its manifest: the file is truncated or not a nodelab images archive", path, archiveImagesName)
	}
	load := exec.CommandContext(ctx, "docker", "load")
	load.Stdin = tr
	out, err := load.CombinedOutput()
	if err != nil {
		return m, nil, fmt.Errorf("docker load: %w: %s (is the engine up (docker info), is the file a whole nodelab images archive, and is there room in the engine's storage?)", err, strings.TrimSpace(string(out)))
	}
	carried := map[string]bool{}
	for _, im := range m.Images {
		carried[im.Ref] = true
	}
	var states []ImageState
	for _, st := range f.States(ctx) {
		if carried[st.Image.Forge] {
			states = append(states, st)
		}
	}
	return m, states, nil
}

// PushedImage is one image Push sent to a registry.
type PushedImage struct {
	Ref    string // the local forge reference
	Target string // where it was pushed
}

// Push tags every forge image that is built here and up to date as
// registry/<name>:<tag> (nodelab.local/echo:v1 → registry/echo:v1) and
// pushes it with the Docker engine's credentials (docker login), for
// clusters that pull instead of being loaded. registry is host[:port] with
// an optional path, no scheme.
func (f *Forge) Push(ctx context.Context, registry string) ([]PushedImage, []ImageState, error) {
	if err := checkRegistry(registry); err != nil {
		return nil, nil, err
	}
	var pushed []PushedImage
	var skipped []ImageState
	for _, st := range f.States(ctx) {
		if !st.Current() {
			skipped = append(skipped, st)
			continue
		}
		target := registry + "/" + strings.TrimPrefix(st.Image.Forge, images.LocalRegistry+"/")
		if _, err := dockercli.Run(ctx, "tag", st.Image.Forge, target); err != nil {
			return pushed, skipped, err
		}
		if out, err := exec.CommandContext(ctx, "docker", "push", target).CombinedOutput(); err != nil {
			return pushed, skipped, fmt.Errorf("docker push %s: %w: %s (is the registry up, and are you logged in: docker login %s?)",
				target, err, lastLine(string(out)), strings.SplitN(registry, "/", 2)[0])
		}
		pushed = append(pushed, PushedImage{Ref: st.Image.Forge, Target: target})
	}
	return pushed, skipped, nil
}

// checkRegistry refuses what docker would read as something else: a
// scheme, spaces, upper case, an empty name.
func checkRegistry(r string) error {
	switch {
	case r == "":
		return fmt.Errorf("no registry given: --to HOST[:PORT][/PATH], e.g. --to registry.example.com:5000/nodelab")
	case strings.Contains(r, "://"):
		return fmt.Errorf("registry %q: give HOST[:PORT][/PATH] without a scheme", r)
	case strings.ContainsAny(r, " \t\n@") || strings.ToLower(r) != r || strings.HasSuffix(r, "/"):
		return fmt.Errorf("registry %q is not a valid image reference prefix: lower case HOST[:PORT][/PATH], no trailing slash", r)
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// buildCommand is the command that builds img: the node and workload
// images come with 'nodelab images build', addon images with --image.
func buildCommand(img images.Image) string {
	if _, ok := addonRecipeFor(img.Name); ok {
		return "nodelab images build --image " + img.Name
	}
	return "nodelab images build"
}
