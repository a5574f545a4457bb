package ingressrollout

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/instruments/nlb"
)

// specService names the Service of the spec with tuning t and target
// type tt, such as "traefik-fix-instance".
func specService(t Tuning, tt nlb.TargetType) string {
	return fmt.Sprintf("%s-%s-%s", Service, t.side(), tt)
}

// createSpecService creates a spec's own LoadBalancer Service: the
// fixture's, named name, with the fixture's annotations plus extra (target
// group attributes the AWS controller would read). In AWS terms each spec
// provisions its own NLB, and here each gets its own NodePort and
// healthCheckNodePort.
//
// Specs must not share a NodePort. A rollout that blackholes new flows
// can leave conntrack entries on the node (SYN_SENT, up to 120 s) that pin
// the NLB's source address and port to the deleted pod; the NLB dials
// from one address, so its next connections to that node reuse those
// ports within seconds and the node forwards them to the deleted pod too
// (kubernetes/kubernetes#101607). With one Service for all specs, the
// pitfall's residue failed the instance fix in 3 of 9 runs.
func (r *Runbook) createSpecService(ctx context.Context, name string, extra map[string]string) error {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: r.baseSvc.Labels, Annotations: map[string]string{}}}
	for k, v := range r.baseSvc.Annotations {
		s.Annotations[k] = v
	}
	for k, v := range extra {
		s.Annotations[k] = v
	}
	s.Spec = *r.baseSvc.Spec.DeepCopy()
	s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.HealthCheckNodePort = "", nil, 0
	for i := range s.Spec.Ports {
		s.Spec.Ports[i].NodePort = 0
	}
	if _, err := r.Lab.Client.CoreV1().Services(r.Namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	return nil
}

// deleteSpecService deletes a Service createSpecService made; the NLB
// in front of it is gone by then. It runs at the end of a spec even when
// the spec's context has ended.
func (r *Runbook) deleteSpecService(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.t().Cleanup)
	defer cancel()
	err := r.Lab.Client.CoreV1().Services(r.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	return nil
}
