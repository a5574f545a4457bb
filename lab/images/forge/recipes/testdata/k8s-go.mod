// A trimmed copy of k8s.io/kubernetes v1.37.1's go.mod for the forge tests.

module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
	github.com/example/fork v1.0.0
	github.com/spf13/cobra v1.10.2
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
	k8s.io/component-base v0.0.0
)

replace (
	github.com/example/fork => github.com/example/fork v1.2.3
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/component-base => ./staging/src/k8s.io/component-base
	k8s.io/local-only => ../elsewhere/local-only
)
