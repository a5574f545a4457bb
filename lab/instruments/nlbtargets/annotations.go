package nlbtargets

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/nlb"
)

// Service annotations of the AWS load balancer controller that the
// emulator honours (unscaled AWS values; nlb.Config.TimeScale applies).
const (
	AnnotationTargetType          = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	AnnotationTargetGroupAttrs    = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
	AnnotationHealthCheckInterval = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval"
	AnnotationHealthyThreshold    = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold"
	AnnotationUnhealthyThreshold  = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold"
	AttrDeregistrationDelay       = "deregistration_delay.timeout_seconds"
	AttrDeregistrationTermination = "deregistration_delay.connection_termination.enabled"
	AttrUnhealthyTermination      = "target_health_state.unhealthy.connection_termination.enabled"
	AttrUnhealthyDrainingInterval = "target_health_state.unhealthy.draining_interval_seconds"
)

// ApplyAnnotations changes cfg as the controller would configure the
// target group for a Service with these annotations. Unknown target group
// attributes are an error, so that a typo does not pass for a fix.
func ApplyAnnotations(cfg *nlb.Config, annotations map[string]string) error {
	var errs []error
	seconds := func(key, v string) (time.Duration, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a number of seconds", key, v))
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	count := func(key, v string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 2 || n > 10 {
			errs = append(errs, fmt.Errorf("%s=%q: want 2 to 10", key, v))
			return 0, false
		}
		return n, true
	}
	boolean := func(key, v string) (bool, bool) {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", key, v))
		}
		return b, err == nil
	}
	if v, ok := annotations[AnnotationTargetType]; ok {
		switch t := nlb.TargetType(v); t {
		case nlb.TargetTypeInstance, nlb.TargetTypeIP:
			cfg.TargetType = t
		default:
			errs = append(errs, fmt.Errorf("%s=%q: want instance or ip", AnnotationTargetType, v))
		}
	}
	if v, ok := annotations[AnnotationHealthCheckInterval]; ok {
		if d, ok := seconds(AnnotationHealthCheckInterval, v); ok {
			cfg.HealthCheck.Interval = d
		}
	}
	if v, ok := annotations[AnnotationHealthyThreshold]; ok {
		if n, ok := count(AnnotationHealthyThreshold, v); ok {
			cfg.HealthCheck.HealthyThreshold = n
		}
	}
	if v, ok := annotations[AnnotationUnhealthyThreshold]; ok {
		if n, ok := count(AnnotationUnhealthyThreshold, v); ok {
			cfg.HealthCheck.UnhealthyThreshold = n
		}
	}
	if attrs, ok := annotations[AnnotationTargetGroupAttrs]; ok {
		for _, kv := range strings.Split(attrs, ",") {
			k, v, found := strings.Cut(strings.TrimSpace(kv), "=")
			if !found {
				errs = append(errs, fmt.Errorf("%s: %q is not key=value", AnnotationTargetGroupAttrs, kv))
				continue
			}
			switch k {
			case AttrDeregistrationDelay:
				if d, ok := seconds(k, v); ok {
					cfg.DeregistrationDelay = d
				}
			case AttrDeregistrationTermination:
				if b, ok := boolean(k, v); ok {
					cfg.TerminateOnDeregistration = b
				}
			case AttrUnhealthyTermination:
				if b, ok := boolean(k, v); ok {
					cfg.TerminateOnUnhealthy = b
				}
			case AttrUnhealthyDrainingInterval:
				if d, ok := seconds(k, v); ok {
					cfg.UnhealthyDrainingInterval = d
				}
			default:
				errs = append(errs, fmt.Errorf("%s: attribute %q is not modelled by the emulator (known: %s, %s, %s, %s)",
					AnnotationTargetGroupAttrs, k, AttrDeregistrationDelay, AttrDeregistrationTermination, AttrUnhealthyTermination, AttrUnhealthyDrainingInterval))
			}
		}
	}
	return errors.Join(errs...)
}
