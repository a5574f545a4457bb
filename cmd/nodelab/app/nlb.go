package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/nlbtargets"
	"github.com/nodelab/nodelab/lab/nlbnet"
)

// nlbOptions are the flags of `nodelab nlb`.
type nlbOptions struct {
	namespace, service, port string
	targetType               string
	listen                   string
	timeScale                float64
	gate                     string
	duration                 time.Duration
}

func newNLB(g *globals) *cobra.Command {
	var pf profileFlags
	o := nlbOptions{listen: "127.0.0.1:8080", timeScale: 30, port: ""}
	cmd := &cobra.Command{
		Use:   "nlb --namespace NS --service NAME",
		Short: "put an AWS-NLB-like L4 proxy on this host in front of a lab's Service (instance or ip targets)",
		Long: `Runs the NLB emulator of scenario ingress-rollout (lab/instruments/nlb) on this host in
front of a Service of a lab nodelab created, with a target controller that does
what the AWS load balancer controller does (lab/instruments/nlbtargets):

  instance  every node not labelled node.kubernetes.io/exclude-from-external-load-balancers
            at InternalIP:NodePort; with externalTrafficPolicy Local the NLB checks
            GET /healthz on the Service's healthCheckNodePort
  ip        the ready endpoints' pod IPs, reached from a data-plane container on
            the kind network (no host route is added); needs root

AWS's defaults (health checks every 30 s, healthy 5, unhealthy 2, registration
and deregistration 3 min, deregistration delay 300 s, RST on unhealthy) are
divided by --time-scale (1: AWS's real timing). The Service's
service.beta.kubernetes.io/aws-load-balancer-* annotations are honoured as the
controller reads them. Every target state change is printed as it happens;
Ctrl-C (or --for) stops it and prints each target's counters. It listens on
loopback only.`,
		Example: `  nodelab up
  kubectl --kubeconfig "$(nodelab kubeconfig)" apply -f my-ingress.yaml
  nodelab nlb --namespace ingress --service traefik --port web --target-type ip
  curl -H 'Host: echo.nodelab.test' http://127.0.0.1:8080/`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.namespace == "" || o.service == "" {
				return usagef("--namespace and --service are required: the Service the NLB fronts")
			}
			typ := nlb.TargetType(o.targetType)
			if typ != nlb.TargetTypeInstance && typ != nlb.TargetTypeIP {
				return usagef("--target-type %q: want instance or ip", o.targetType)
			}
			if o.timeScale < 1 {
				return usagef("--time-scale %g: want 1 (AWS's timing) or more", o.timeScale)
			}
			if o.gate != "" && typ != nlb.TargetTypeIP {
				return usagef("--readiness-gate needs --target-type ip")
			}
			ap, err := netip.ParseAddrPort(o.listen)
			if err != nil {
				return usagef("--listen %q: want a loopback IP and port such as 127.0.0.1:8080", o.listen)
			}
			if !ap.Addr().IsLoopback() {
				return usagef("--listen %s: the NLB listens on loopback only; use 127.0.0.1:%d", o.listen, ap.Port())
			}
			// Before the lab is looked up: a port in use is a wrong flag,
			// and should be said at once, not after connecting to the lab.
			if err := listenFree(o.listen); err != nil {
				return usageError{err}
			}
			name, err := pf.labName()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.duration)
				defer cancel()
			}
			l, err := lab.Open(ctx, name, g.stateDir)
			if err != nil {
				return err
			}
			return runNLB(ctx, g, l, typ, o)
		},
	}
	pf.add(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.namespace, "namespace", "n", "", "the Service's namespace")
	f.StringVar(&o.service, "service", "", "the Service the NLB fronts")
	f.StringVar(&o.port, "port", "", "the Service port's name (may be empty when it has one port)")
	f.StringVar(&o.targetType, "target-type", string(nlb.TargetTypeInstance), "instance or ip")
	f.StringVar(&o.listen, "listen", o.listen, "listener address (loopback only)")
	f.Float64Var(&o.timeScale, "time-scale", o.timeScale, "divide AWS's timing by this factor (1: real AWS timing)")
	f.StringVar(&o.gate, "readiness-gate", "", "pod condition to set True once a pod's ip target is healthy (e.g. target-health.elbv2.k8s.aws/my-tg)")
	f.DurationVar(&o.duration, "for", 0, "stop after this long (default: until Ctrl-C)")
	return cmd
}

func runNLB(ctx context.Context, g *globals, l *lab.Lab, typ nlb.TargetType, o nlbOptions) (err error) {
	svc, err := nlbtargets.GetService(ctx, l.Client, o.namespace, o.service, o.port)
	if err != nil {
		return err
	}
	if typ == nlb.TargetTypeInstance && svc.NodePort == 0 {
		return fmt.Errorf("service %s/%s has no NodePort: instance targets need a Service of type NodePort or LoadBalancer (or use --target-type ip)", o.namespace, o.service)
	}
	live, err := l.Client.CoreV1().Services(o.namespace).Get(ctx, o.service, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cfg := nlb.AWSDefaults()
	cfg.TargetType = typ
	if typ == nlb.TargetTypeInstance && svc.Local {
		cfg.UseHealthCheckNodePort(svc.HealthCheckNodePort)
	}
	if err := nlbtargets.ApplyAnnotations(&cfg, live.Annotations); err != nil {
		return fmt.Errorf("service %s/%s: %w", o.namespace, o.service, err)
	}
	cfg.TargetType = typ
	cfg.TimeScale = o.timeScale
	cfg.Listen = o.listen
	cfg.Logger = g.logger()
	if typ == nlb.TargetTypeIP {
		dp, err := l.StartNLBDataPlane(ctx, g.logger())
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err = errors.Join(err, dp.Close(cctx))
		}()
		cfg.Dial = dp.Dial
		g.progress().Printf("ip targets dialled from container %s (%s)", nlbnet.ContainerName(l.Name), dp.Addr())
	}
	lb, err := nlb.Start(ctx, cfg)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: --listen %s is in use; pick another port", err, o.listen)
	}
	if err != nil {
		return err
	}
	defer func() { _ = lb.Close() }()
	sync, err := nlbtargets.Start(ctx, nlbtargets.Options{Client: l.Client, NLB: lb, Namespace: o.namespace, Name: o.service,
		Service: svc, Type: typ, ReadinessGate: corev1.PodConditionType(o.gate), Logger: g.logger()})
	if err != nil {
		return err
	}
	s := cfg.Scaled()
	fmt.Fprintf(g.stderr, "NLB listening on %s → %s/%s (%s targets); health check %s every %s, healthy %d, unhealthy %d; registration %s, deregistration %s, deregistration delay %s (AWS ÷ %g). Ctrl-C stops.\n",
		lb.Addr(), o.namespace, o.service, typ, s.HealthCheck.Protocol, s.HealthCheck.Interval, s.HealthCheck.HealthyThreshold,
		s.HealthCheck.UnhealthyThreshold, s.RegistrationPropagation, s.DeregistrationPropagation, s.DeregistrationDelay, o.timeScale)
	printed := 0
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		ev := lb.Events()
		for _, e := range ev[printed:] {
			fmt.Fprintln(g.stderr, e.String())
		}
		printed = len(ev)
	}
	serr := sync.Stop()
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSTATE\tREASON\tFLOWS\tRESETS\tDIAL ERRORS")
	for _, t := range lb.Snapshot().Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", t.Target, t.State, t.Reason, t.TotalFlows, t.Resets, t.DialErrors)
	}
	_ = tw.Flush()
	return serr
}

// listenFree checks that addr can be listened on now (nlb.Start listens
// again later; a race there still fails with the same message).
func listenFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("--listen %s is in use; pick another port (e.g. --listen 127.0.0.1:0 for any free one)", addr)
		}
		return fmt.Errorf("--listen %s: %w", addr, err)
	}
	return ln.Close()
}
