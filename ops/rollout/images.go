package rollout

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/opsdeck/opsdeck/ops/health"
)

// Image is a container image reference cut into its parts:
// [registry/]repository[:tag][@digest].
type Image struct {
	Repository string
	Tag        string
	Digest     string
}

// ParseImage cuts a reference; a missing tag and digest leave both empty
// (the runtime then pulls "latest").
func ParseImage(ref string) Image {
	var im Image
	name, digest, ok := strings.Cut(ref, "@")
	if ok {
		im.Digest = digest
	}
	// A tag is after the last ':' that follows the last '/' (a registry's
	// port comes before a '/').
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, im.Tag = name[:i], name[i+1:]
	}
	im.Repository = name
	return im
}

// Pinned reports whether the reference names one build: a digest, or a
// tag other than "latest". why says what is wrong when it does not.
func (im Image) Pinned() (ok bool, why string) {
	switch {
	case im.Digest != "":
		return true, ""
	case im.Tag == "":
		return false, "untagged (pulls latest)"
	case im.Tag == "latest":
		return false, ":latest"
	}
	return true, ""
}

// digestOf is the digest in a container status's imageID
// ("docker-pullable://repo@sha256:…", "repo@sha256:…", "sha256:…"), or the
// imageID itself when it holds none.
func digestOf(imageID string) string {
	if i := strings.Index(imageID, "sha256:"); i >= 0 {
		return imageID[i:]
	}
	return imageID
}

// containers are a pod template's init and app containers.
func containers(spec corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(spec.InitContainers), spec.Containers...)
}

// JudgeImages judges the images of a workload's template and of its
// current pods: an image not pinned (":latest", untagged) is a warning;
// pods running different builds of one container (their imageIDs differ,
// as when a tag is pushed again during a rollout), or a build other than
// the template's digest, is critical.
func JudgeImages(tmpl corev1.PodSpec, pods []*corev1.Pod) health.Result {
	r := health.Result{Name: "images", Status: health.OK, Runbook: "validating-a-deploy"}
	var refs, loose, mixed []string
	for _, c := range containers(tmpl) {
		refs = append(refs, c.Image)
		im := ParseImage(c.Image)
		if ok, why := im.Pinned(); !ok {
			loose = append(loose, fmt.Sprintf("%s %s", c.Name, why))
		}
		builds := map[string][]string{}
		for _, p := range pods {
			if !runsImage(p, c.Name, c.Image) {
				continue
			}
			for _, st := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
				if st.Name == c.Name && st.ImageID != "" {
					d := digestOf(st.ImageID)
					builds[d] = append(builds[d], p.Name)
				}
			}
		}
		switch {
		case len(builds) > 1:
			mixed = append(mixed, fmt.Sprintf("%s: %d builds across its pods", c.Name, len(builds)))
		case len(builds) == 1 && im.Digest != "":
			for d, ps := range builds {
				if d != im.Digest && strings.HasPrefix(d, "sha256:") {
					mixed = append(mixed, fmt.Sprintf("%s: %s runs %s, not the pinned digest", c.Name, ps[0], short(d)))
				}
			}
		}
	}
	r.Value = strings.Join(refs, ", ")
	switch {
	case len(mixed) > 0:
		r.Status = health.Crit
		r.Value = strings.Join(mixed, "; ")
		r.Hint = "one tag names several builds: pin images by digest (image@sha256:…) and roll out again"
	case len(loose) > 0:
		r.Status = health.Warn
		r.Value = "not pinned: " + strings.Join(loose, ", ")
		r.Hint = "deploy an explicit version tag or a digest: pods started later may pull another build"
	}
	return r
}

// runsImage reports whether pod p's container name is image (a pod of the
// template, not one left from another).
func runsImage(p *corev1.Pod, name, image string) bool {
	for _, c := range containers(p.Spec) {
		if c.Name == name {
			return c.Image == image
		}
	}
	return false
}

// short abbreviates a digest for a line.
func short(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}
