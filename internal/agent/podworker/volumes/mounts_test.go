package volumes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSubPathsAsKubelet(t *testing.T) {
	a := &Manager{Dir: t.TempDir()}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "uid-1"}}
	vol := a.volumeDir(pod, "work")
	if err := os.MkdirAll(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	// A symlink the container made, pointing out of the volume.
	if err := os.Symlink("/etc", filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	env := []string{"POD_NAME=web-1", "UP=..", "ABS=/etc", "EMPTY="}
	for _, tc := range []struct {
		mount   corev1.VolumeMount
		want    string // host path under the volume, or the error
		wantErr bool
	}{
		{corev1.VolumeMount{Name: "work", MountPath: "/w"}, "", false},
		{corev1.VolumeMount{Name: "work", MountPath: "/w", SubPath: "a/b"}, "a/b", false},
		{corev1.VolumeMount{Name: "work", MountPath: "/w", SubPathExpr: "logs/$(POD_NAME)"}, "logs/web-1", false},
		{corev1.VolumeMount{Name: "work", MountPath: "/w", SubPath: "escape/passwd"}, "etc/passwd", false}, // /etc read inside the volume
		{corev1.VolumeMount{Name: "work", MountPath: "/w", SubPathExpr: "$(UP)"}, "unable to provision SubPath `..`", true},
		{corev1.VolumeMount{Name: "work", MountPath: "/w", SubPathExpr: "$(ABS)"}, "error SubPath `/etc` must not be an absolute path", true},
		{corev1.VolumeMount{Name: "work", MountPath: "/w", SubPathExpr: "$(MISSING)/x"}, "missing value for MISSING", true},
		{corev1.VolumeMount{Name: "work", MountPath: "/w", SubPath: "../x"}, "unable to provision SubPath `../x`", true},
	} {
		got, err := a.Mounts(pod, &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{tc.mount}}, env)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: %v, want an error with %q", tc.mount, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.mount, err)
			continue
		}
		if want := filepath.Join(vol, tc.want); got[0].HostPath != want {
			t.Errorf("%+v: host path %s, want %s (inside the volume)", tc.mount, got[0].HostPath, want)
		}
		if fi, err := os.Stat(got[0].HostPath); err != nil || !fi.IsDir() {
			t.Errorf("%+v: %s not made as a directory: %v", tc.mount, got[0].HostPath, err)
		}
	}
	if _, err := os.Stat("/etc/passwd/"); err == nil {
		t.Fatal("the test's premise: /etc/passwd is a file")
	}
}
