package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/manifest"
)

const (
	secretData  = "s3cr3t-token-in-a-secret"
	literalEnv  = "hunter2-literal-env"
	templateEnv = "template-literal-env"
)

// fakeLab is an attached lab (no kind nodes) whose API holds a nodelab
// namespace with a Secret, a pod with a literal env value and a restarted
// container, and a deployment whose template has one too. Its log
// endpoint serves logLines numbered lines and honours tailLines the way
// the kubelet does; every PodLogOptions asked for is recorded.
func fakeLab(t *testing.T, logLines int, asked *[]corev1.PodLogOptions) *lab.Lab {
	t.Helper()
	ns := "redis-port-forward-x1"
	managed := map[string]string{manifest.ManagedByLabel: manifest.ManagedByValue}
	env := []corev1.EnvVar{
		{Name: "PASSWORD", Value: literalEnv},
		{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app-token"}, Key: "token"}}},
	}
	cs := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: managed}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-token", Namespace: ns, Labels: managed,
			Annotations: map[string]string{lastApplied: `{"data":{"token":"` + secretData + `"}}`}},
			StringData: map[string]string{"token": secretData}, Data: map[string][]byte{"token": []byte(secretData)}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-0", Namespace: ns,
			Annotations: map[string]string{lastApplied: `{"env":[{"value":"` + literalEnv + `"}]}`}},
			Spec:   corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app", Image: "app", Env: env}}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 1}}}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "web", Env: []corev1.EnvVar{{Name: "KEY", Value: templateEnv}}}}}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory"}}}},
	)
	cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ga, ok := a.(k8stesting.GenericAction)
		if !ok || a.GetSubresource() != "log" {
			return false, nil, nil
		}
		opts := ga.GetValue().(*corev1.PodLogOptions)
		*asked = append(*asked, *opts)
		var lines []string
		for i := 1; i <= logLines; i++ {
			lines = append(lines, fmt.Sprintf("line %06d previous=%v", i, opts.Previous))
		}
		if opts.TailLines != nil && int(*opts.TailLines) < len(lines) {
			lines = lines[len(lines)-int(*opts.TailLines):]
		}
		out := []byte(strings.Join(lines, "\n") + "\n")
		if opts.LimitBytes != nil && int(*opts.LimitBytes) < len(out) {
			out = out[:*opts.LimitBytes] // the API's limitBytes keeps the head
		}
		return true, &runtime.Unknown{Raw: out}, nil
	})
	return &lab.Lab{Name: "fake", Client: cs, Attached: true}
}

func readBundle(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBundleLogsKeepTheirTail(t *testing.T) {
	var asked []corev1.PodLogOptions
	l := fakeLab(t, 5000, &asked)
	dir := t.TempDir()
	limits := BundleLimits{FileBytes: 4096, BundleBytes: 1 << 20, JournalLines: 10, LogLines: 1000}
	if err := CollectBundle(context.Background(), l, dir, time.Now(), limits); err != nil {
		t.Fatal(err)
	}
	files := readBundle(t, dir)
	for _, name := range []string{"app-0_app.log", "app-0_app.previous.log"} {
		log, ok := files["namespaces/redis-port-forward-x1/logs/"+name]
		if !ok {
			t.Fatalf("%s not in the bundle; files: %v", name, keys(files))
		}
		if !strings.HasSuffix(log, "line 005000 previous="+fmt.Sprint(strings.Contains(name, "previous"))+"\n") {
			t.Errorf("%s does not end with the log's last line:\n...%s", name, log[max(0, len(log)-200):])
		}
		if strings.Contains(log, "line 000001 ") || strings.Contains(log, "line 004000 ") {
			t.Errorf("%s kept the head of the log", name)
		}
		if !strings.HasPrefix(log, "[first ") || !strings.Contains(log, "the tail is kept]") {
			t.Errorf("%s lacks the cut marker: %.120q", name, log)
		}
		if len(log) > limits.FileBytes+100 {
			t.Errorf("%s is %d bytes, cap %d", name, len(log), limits.FileBytes)
		}
	}
	if len(asked) != 2 {
		t.Fatalf("log requests = %d, want current and previous", len(asked))
	}
	for _, o := range asked {
		if o.LimitBytes != nil || o.TailLines == nil || *o.TailLines != 1000 {
			t.Errorf("log request %+v: want tailLines=1000 and no limitBytes (it keeps the head)", o)
		}
	}
}

func TestReadTailKeepsTheEnd(t *testing.T) {
	in := strings.Repeat("a", 100000) + "THE END"
	out, dropped, err := readTail(strings.NewReader(in), 1000)
	if err != nil || len(out) != 1000 || dropped != len(in)-1000 || !strings.HasSuffix(string(out), "THE END") {
		t.Errorf("readTail = %d bytes, dropped %d, %v", len(out), dropped, err)
	}
	out, dropped, _ = readTail(strings.NewReader("short"), 1000)
	if string(out) != "short" || dropped != 0 {
		t.Errorf("readTail(short) = %q, %d", out, dropped)
	}
}

func TestBundleCapStopsWithANote(t *testing.T) {
	var asked []corev1.PodLogOptions
	l := fakeLab(t, 5000, &asked)
	dir := t.TempDir()
	// nodes.txt, the objects and the first 4 KiB log fit; the previous log does not.
	limits := BundleLimits{FileBytes: 4096, BundleBytes: 6000, JournalLines: 10, LogLines: 1000}
	if err := CollectBundle(context.Background(), l, dir, time.Now(), limits); err != nil {
		t.Fatal(err)
	}
	files := readBundle(t, dir)
	idx := files["index.txt"]
	total := 0
	for name, f := range files {
		if name != "index.txt" {
			total += len(f)
		}
	}
	if total > limits.BundleBytes {
		t.Errorf("bundle holds %d bytes, cap %d", total, limits.BundleBytes)
	}
	if !strings.Contains(idx, "bundle cap reached at namespaces/redis-port-forward-x1/logs/app-0_app.previous.log: it and every file after it were left out") {
		t.Errorf("index.txt lacks the cap note:\n%s", idx)
	}
	if _, ok := files["namespaces/redis-port-forward-x1/logs/app-0_app.previous.log"]; ok {
		t.Errorf("the file past the cap was written")
	}
	for _, name := range []string{"nodes.txt", "namespaces/redis-port-forward-x1/deployments.yaml", "namespaces/redis-port-forward-x1/events.txt"} {
		if _, ok := files[name]; !ok {
			t.Errorf("%s (written before the logs) missing", name)
		}
	}
	if !strings.Contains(idx, "app-0_app.previous.log LEFT OUT") {
		t.Errorf("index.txt does not list the files left out:\n%s", idx)
	}
	if !strings.Contains(idx, fmt.Sprintf("total: %d bytes in %d files (bundle cap 6000 bytes)", total, len(files)-1)) {
		t.Errorf("index.txt lacks the total line for %d bytes in %d files:\n%s", total, len(files)-1, idx)
	}
	if _, ok := files["nodes.txt"]; !ok || !strings.Contains(files["nodes.txt"], "KubeletHasInsufficientMemory") {
		t.Errorf("nodes.txt (written first) missing or without conditions")
	}
}

func TestBundleNeverHoldsSecretsOrLiteralEnvValues(t *testing.T) {
	var asked []corev1.PodLogOptions
	l := fakeLab(t, 10, &asked)
	dir := t.TempDir()
	if err := CollectBundle(context.Background(), l, dir, time.Now(), DefaultBundleLimits); err != nil {
		t.Fatal(err)
	}
	files := readBundle(t, dir)
	for name, f := range files {
		for _, leak := range []string{secretData, literalEnv, templateEnv, "kind: Secret"} {
			if strings.Contains(f, leak) {
				t.Errorf("%s contains %q", name, leak)
			}
		}
	}
	pods := files["namespaces/redis-port-forward-x1/pods.yaml"]
	for _, want := range []string{"name: app-token", "secretKeyRef", "<redacted by nodelab: literal value, 19 bytes>", lastApplied + ": <redacted by nodelab>"} {
		if !strings.Contains(pods, want) {
			t.Errorf("pods.yaml lacks %q:\n%s", want, pods)
		}
	}
	if !strings.Contains(files["namespaces/redis-port-forward-x1/deployments.yaml"], "<redacted by nodelab: literal value, 20 bytes>") {
		t.Errorf("deployment template env not redacted:\n%s", files["namespaces/redis-port-forward-x1/deployments.yaml"])
	}
	if !strings.Contains(files["index.txt"], "Secrets are never collected") || !strings.Contains(files["index.txt"], "2 env values and 1 annotations redacted") {
		t.Errorf("index.txt does not say what was redacted:\n%s", files["index.txt"])
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
