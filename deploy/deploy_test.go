// Package deploy_test checks the Kubernetes manifests in this directory without a cluster:
// every document is decoded strictly into its k8s.io/api type (an unknown or misspelt field
// fails), the objects are checked against each other (selectors, ports, probes, the config
// file path), and the ConfigMap's config is built as `agentbridge config validate` builds it.
package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	_ "github.com/agentbridge/agentbridge/adapters/standard"       // the backend kinds, as the binary has them
	_ "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1" // the service the config serves, linked as in the binary
	"github.com/agentbridge/agentbridge/server"
)

type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
}

// load decodes every document of every .yaml file strictly.
func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s[%d]: %v", f, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				d := new(appsv1.Deployment)
				obj = d
				defer func() { m.deployments[d.Name] = d }()
			case "v1 Service":
				s := new(corev1.Service)
				obj = s
				defer func() { m.services[s.Name] = s }()
			case "v1 ConfigMap":
				c := new(corev1.ConfigMap)
				obj = c
				defer func() { m.configMaps[c.Name] = c }()
			case "policy/v1 PodDisruptionBudget":
				p := new(policyv1.PodDisruptionBudget)
				obj = p
				defer func() { m.pdbs = append(m.pdbs, p) }()
			case "autoscaling/v2 HorizontalPodAutoscaler":
				h := new(autoscalingv2.HorizontalPodAutoscaler)
				obj = h
				defer func() { m.hpas = append(m.hpas, h) }()
			default:
				t.Fatalf("%s[%d]: %s %s is not a kind this test knows; add it", f, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s[%d] (%s): %v", f, i, tm.Kind, err)
			}
		}
	}
	return m
}

func TestManifests(t *testing.T) {
	m := load(t)
	bridge := m.deployments["agentbridge"]
	redis := m.deployments["redis"]
	if bridge == nil || redis == nil || m.services["agentbridge"] == nil || m.services["redis"] == nil || m.configMaps["agentbridge"] == nil || len(m.pdbs) != 1 || len(m.hpas) != 1 {
		t.Fatalf("want the agentbridge and redis Deployments and Services, the ConfigMap, a PodDisruptionBudget and a HorizontalPodAutoscaler")
	}
	for name, d := range m.deployments {
		if !matches(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("deployment %s: its selector does not select its pods", name)
		}
		svc := m.services[name]
		if svc == nil || !matches(svc.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("service %s does not select deployment %s's pods", name, name)
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		for _, p := range svc.Spec.Ports {
			if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.StrVal }) {
				t.Errorf("service %s: target port %q is no port of the container", name, p.TargetPort.String())
			}
		}
	}
	c := bridge.Spec.Template.Spec.Containers[0]
	for probe, want := range map[*corev1.Probe]string{c.ReadinessProbe: "/readyz", c.LivenessProbe: "/healthz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.StrVal != "http" {
			t.Errorf("agentbridge: want an HTTP probe of %s on the http port", want)
			continue
		}
		if !slices.ContainsFunc(probe.HTTPGet.HTTPHeaders, func(h corev1.HTTPHeader) bool { return h.Name == "Host" && h.Value == "localhost" }) {
			t.Errorf("agentbridge: the %s probe must send Host: localhost, or allowed_hosts refuses it", want)
		}
	}
	// The config file the container reads is the ConfigMap's key, mounted.
	args := strings.Join(c.Args, " ")
	if !strings.Contains(args, "-config /etc/agentbridge/agentbridge.yaml") || c.VolumeMounts[0].MountPath != "/etc/agentbridge" {
		t.Errorf("agentbridge: args %q and mounts %v do not read the ConfigMap's agentbridge.yaml", args, c.VolumeMounts)
	}
	if len(m.pdbs[0].Spec.Selector.MatchLabels) == 0 || !matches(m.pdbs[0].Spec.Selector.MatchLabels, bridge.Spec.Template.Labels) {
		t.Error("the PodDisruptionBudget does not select the bridge's pods")
	}
	if h := m.hpas[0]; h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != "agentbridge" ||
		h.Spec.MinReplicas == nil || m.pdbs[0].Spec.MinAvailable.IntValue() >= int(*h.Spec.MinReplicas) {
		t.Error("the HorizontalPodAutoscaler must scale the bridge and keep more replicas than the PodDisruptionBudget's minAvailable")
	}

	// The config, as config validate checks it: decoded strictly, then built.
	cfgText := m.configMaps["agentbridge"].Data["agentbridge.yaml"]
	cfg, err := server.ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	// The password comes from the Secret through this variable.
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "AGENTBRIDGE_REDIS_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
	}) || cfg.Redis == nil || cfg.Redis.Password != "${AGENTBRIDGE_REDIS_PASSWORD}" {
		t.Error("the Redis password must reach the config from a Secret as ${AGENTBRIDGE_REDIS_PASSWORD}")
	}
	if !strings.HasPrefix(cfg.Redis.Address, "redis:") {
		t.Errorf("redis.address %q is not the redis Service", cfg.Redis.Address)
	}
	t.Setenv("AGENTBRIDGE_REDIS_PASSWORD", "example")
	srv, err := cfg.Build()
	if err != nil {
		t.Fatalf("the ConfigMap's config does not build: %v", err)
	}
	_ = srv.Close()
	// Drain and grace fit in the pod's termination grace period.
	if grace := bridge.Spec.Template.Spec.TerminationGracePeriodSeconds; grace == nil || float64(*grace) <= (cfg.ShutdownDrain+cfg.ShutdownGrace).Seconds() {
		t.Errorf("terminationGracePeriodSeconds must exceed shutdown_drain + shutdown_grace (%s)", cfg.ShutdownDrain+cfg.ShutdownGrace)
	}
}

// TestStrictDecodingCatchesTypos: a misspelt field fails, so the test above cannot pass on a
// manifest Kubernetes would reject or silently misread.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 3\n")
	if err := yaml.UnmarshalStrict(doc, new(appsv1.Deployment)); err == nil {
		t.Fatal("a misspelt field decoded without an error")
	}
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
