//go:build ignore

// Command crictl is the forge's crictl stand-in: the CRI gRPC client over
// the core in package crictl. The forge copies this file (without the
// ignore constraint) into a generated module with k8s.io/cri-api and grpc;
// the main module never builds it.
package main

import (
	"context"
	"os"
	"os/signal"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"nodelab-forge/crictl/crictl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	code := crictl.Run(ctx, os.Args[1:], crictl.Env{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		ReadConfig: func() ([]byte, error) { return os.ReadFile("/etc/crictl.yaml") },
		Connect:    connect,
		Now:        time.Now,
	})
	cancel()
	stop()
	os.Exit(code)
}

type cri struct {
	rt  runtimeapi.RuntimeServiceClient
	img runtimeapi.ImageServiceClient
}

func connect(_ context.Context, endpoint string) (crictl.Runtime, error) {
	conn, err := grpc.NewClient(endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, err
	}
	return &cri{rt: runtimeapi.NewRuntimeServiceClient(conn), img: runtimeapi.NewImageServiceClient(conn)}, nil
}

func image(i *runtimeapi.Image) crictl.Image {
	return crictl.Image{
		ID:          i.GetId(),
		RepoTags:    i.GetRepoTags(),
		RepoDigests: i.GetRepoDigests(),
		Size:        i.GetSize(),
		Username:    i.GetUsername(),
		Pinned:      i.GetPinned(),
	}
}

func (c *cri) ListImages(ctx context.Context) ([]crictl.Image, error) {
	r, err := c.img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]crictl.Image, 0, len(r.GetImages()))
	for _, i := range r.GetImages() {
		out = append(out, image(i))
	}
	return out, nil
}

func (c *cri) ImageStatus(ctx context.Context, ref string) (*crictl.Image, map[string]string, error) {
	r, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: true})
	if err != nil {
		return nil, nil, err
	}
	if r.GetImage() == nil {
		return nil, nil, nil
	}
	img := image(r.GetImage())
	return &img, r.GetInfo(), nil
}

func (c *cri) ListContainers(ctx context.Context) ([]crictl.Container, error) {
	r, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]crictl.Container, 0, len(r.GetContainers()))
	for _, x := range r.GetContainers() {
		out = append(out, crictl.Container{
			ID:        x.GetId(),
			PodID:     x.GetPodSandboxId(),
			PodName:   x.GetLabels()["io.kubernetes.pod.name"],
			Name:      x.GetMetadata().GetName(),
			Image:     x.GetImage().GetImage(),
			State:     x.GetState().String(),
			Attempt:   x.GetMetadata().GetAttempt(),
			CreatedAt: time.Unix(0, x.GetCreatedAt()),
		})
	}
	return out, nil
}

func (c *cri) ListPods(ctx context.Context) ([]crictl.Pod, error) {
	r, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]crictl.Pod, 0, len(r.GetItems()))
	for _, x := range r.GetItems() {
		out = append(out, crictl.Pod{
			ID:             x.GetId(),
			Name:           x.GetMetadata().GetName(),
			Namespace:      x.GetMetadata().GetNamespace(),
			RuntimeHandler: x.GetRuntimeHandler(),
			State:          x.GetState().String(),
			Attempt:        x.GetMetadata().GetAttempt(),
			CreatedAt:      time.Unix(0, x.GetCreatedAt()),
		})
	}
	return out, nil
}
