package ingressrollout

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/nlbtargets"
)

// TimeScale divides AWS's NLB timings (lab/instruments/nlb.AWSDefaults): 30 turns the
// 30 s health-check interval into 1 s and the 180 s propagation into 6 s,
// keeping their ratios, so a rollout behaves as on AWS, 30 times faster.
const TimeScale = 30

// ReadinessGate is the pod condition the target controller sets once a
// pod's ip target is healthy, as the AWS load balancer controller's
// target-health.elbv2.k8s.aws/<target group> gate.
const ReadinessGate corev1.PodConditionType = "target-health.elbv2.k8s.aws/nodelab-traefik"

// Host is the Ingress rule's host, sent as the Host header.
const Host = "echo.nodelab.test"

// NLBConfig is the emulator's configuration for a Service: AWS's defaults
// for the target type, the Service's load balancer annotations, scaled.
func NLBConfig(t nlb.TargetType, svc nlbtargets.Service, annotations map[string]string) (nlb.Config, error) {
	cfg := nlb.AWSDefaults()
	cfg.TargetType = t
	if t == nlb.TargetTypeInstance && svc.Local {
		cfg.UseHealthCheckNodePort(svc.HealthCheckNodePort)
	}
	if err := nlbtargets.ApplyAnnotations(&cfg, annotations); err != nil {
		return nlb.Config{}, err
	}
	cfg.TargetType = t // the spec's target type wins over an annotation
	cfg.TimeScale = TimeScale
	return cfg, cfg.Validate()
}

// Tuning is how the Traefik Deployment is set up for one spec.
type Tuning struct {
	// Name says which ("as commonly deployed", "fix").
	Name string
	// Strategy is the rolling update; nil leaves Kubernetes's default
	// (25 % / 25 %: with one or two replicas, surge 1 and unavailable 0).
	Strategy *appsv1.RollingUpdateDeployment
	// PreStop, when set, sleeps that long before SIGTERM.
	PreStop time.Duration
	// Grace is terminationGracePeriodSeconds; 0 leaves the default 30 s.
	Grace time.Duration
	// MinReady is minReadySeconds.
	MinReady time.Duration
	// RouteReadiness makes the readiness probe a request through the
	// Ingress route, so that Ready means "routes", not only "runs".
	RouteReadiness bool
	// Gate adds the readiness gate (ip targets).
	Gate bool
	// KeepAliveMaxTime, when set, makes Traefik answer with
	// "Connection: close" on keep-alive connections older than this
	// (entryPoints.web.transport.keepAliveMaxTime), so clients move to new
	// connections, which the NLB sends elsewhere.
	KeepAliveMaxTime time.Duration
	// ServiceAnnotations are set on the Service (target group attributes).
	ServiceAnnotations map[string]string
}

// Pitfall is Traefik as commonly deployed: default strategy, no preStop,
// default grace period, readiness on /ping.
func Pitfall() Tuning {
	return Tuning{Name: "as commonly deployed (no preStop, default grace and strategy)"}
}

// Fix derives the fix from the NLB's scaled timing:
//
//   - keep-alive connections retired after KeepAliveAge: an L4 NLB pins
//     a client's connection to one pod for the connection's life, so the
//     only clean way off a terminating pod is for the server to close
//     the connection after a response (Connection: close) while it still
//     serves, before SIGTERM; the client's next request opens a new
//     connection, which the NLB no longer sends there;
//   - preStop sleep longer than the NLB takes to stop sending new flows
//     (unhealthy detection, interval × unhealthy threshold, for instance
//     targets; deregistration propagation for ip targets) plus
//     KeepAliveAge, a check interval and 2 s of margin (preStopMargin);
//   - terminationGracePeriodSeconds longer than preStop plus Traefik's
//     drain (graceTimeOut) plus 5 s (graceMargin);
//   - maxSurge 1, maxUnavailable 0;
//   - minReadySeconds: instance targets, longer than a node with a new pod
//     takes to become healthy (interval × healthy threshold + 2 s,
//     minReadyMargin); ip targets wait in the readiness gate instead (2 s,
//     ipMinReady);
//   - Ready only when the Ingress route answers;
//   - instance targets: the target group keeps the flows of a target that
//     turns unhealthy (target_health_state.unhealthy.connection_termination.enabled=false),
//     so that a node draining its terminating pod does not reset them.
func Fix(t nlb.TargetType, cfg nlb.Config) Tuning {
	s := cfg.Scaled()
	iv := s.HealthCheck.Interval
	f := Tuning{Name: "fix", RouteReadiness: true,
		Strategy: &appsv1.RollingUpdateDeployment{MaxSurge: ptr(intstr.FromInt32(1)), MaxUnavailable: ptr(intstr.FromInt32(0))}}
	f.KeepAliveMaxTime = KeepAliveAge
	switch t {
	case nlb.TargetTypeIP:
		f.PreStop = s.DeregistrationPropagation + KeepAliveAge + iv + preStopMargin
		f.MinReady = ipMinReady
		f.Gate = true
	default:
		f.PreStop = iv*time.Duration(s.HealthCheck.UnhealthyThreshold) + KeepAliveAge + iv + preStopMargin
		f.MinReady = iv*time.Duration(s.HealthCheck.HealthyThreshold) + minReadyMargin
		f.ServiceAnnotations = map[string]string{nlbtargets.AnnotationTargetGroupAttrs: nlbtargets.AttrUnhealthyTermination + "=false"}
	}
	f.PreStop = f.PreStop.Round(apiSecond)
	f.Grace = f.PreStop + traefikGrace + graceMargin
	return f
}

func ptr[T any](v T) *T { return &v }

// side is "fix" for Fix's tuning and "pitfall" for any other.
func (t Tuning) side() string {
	if t.Name == "fix" {
		return "fix"
	}
	return "pitfall"
}

// apply sets the tuning on a Deployment made from the fixture.
func (t Tuning) apply(d *appsv1.Deployment) {
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: t.Strategy}
	d.Spec.MinReadySeconds = int32(t.MinReady / apiSecond)
	ps := &d.Spec.Template.Spec
	if t.Grace > 0 {
		ps.TerminationGracePeriodSeconds = ptr(int64(t.Grace / apiSecond))
	}
	if t.Gate {
		ps.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: ReadinessGate}}
	}
	c := &ps.Containers[0]
	if t.KeepAliveMaxTime > 0 {
		c.Args = append(c.Args, "--entryPoints.web.transport.keepAliveMaxTime="+t.KeepAliveMaxTime.String())
	}
	if t.PreStop > 0 {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: int64(t.PreStop / apiSecond)}}}
	}
	if t.RouteReadiness && c.ReadinessProbe != nil {
		c.ReadinessProbe.HTTPGet = &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("web"),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "Host", Value: Host}}}
	}
}
