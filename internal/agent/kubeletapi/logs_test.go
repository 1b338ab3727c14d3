package kubeletapi

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A CRI-format log read as kubectl logs asks, with kubelet's reader (so as on
// a node-group node): the
// options of the query, timestamps, since, tail, limit, the two streams, a line
// written in parts, and a follow that ends when the container does.
func TestReadLogsOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	now := time.Now().UTC()
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339Nano) }
	log := at(time.Hour) + " stdout F an hour ago\n" +
		at(time.Minute) + " stderr F a minute ago\n" +
		at(time.Second) + " stdout P a second \n" +
		at(time.Second) + " stdout F ago\n"
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(query string) (string, string) {
		t.Helper()
		opts, err := podLogOptions(httptest.NewRequest("GET", "/containerLogs/ns/pod/c?"+query, nil))
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		var out, errOut bytes.Buffer
		if err := readLogs(context.Background(), path, readOptions(opts, now), func(context.Context) bool { return false }, &out, &errOut); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return out.String(), errOut.String()
	}
	for _, tc := range []struct{ query, stdout, stderr string }{
		{"", "an hour ago\na second ago\n", "a minute ago\n"},
		{"sinceSeconds=120", "a second ago\n", "a minute ago\n"},
		{"sinceTime=" + now.Add(-30*time.Second).Format(time.RFC3339), "a second ago\n", ""},
		{"tailLines=3", "a second ago\n", "a minute ago\n"},
		{"tail=2", "a second ago\n", ""}, // a record is a line, as kubelet counts
		{"limitBytes=5", "an ho", ""},
		{"timestamps=true&tailLines=2", now.Add(-time.Second).Format("2006-01-02T15:04:05.000000000Z07:00") + " a second ago\n", ""},
	} {
		stdout, stderr := read(tc.query)
		if stdout != tc.stdout || stderr != tc.stderr {
			t.Errorf("%q: stdout %q stderr %q; want %q, %q", tc.query, stdout, stderr, tc.stdout, tc.stderr)
		}
	}
	for _, bad := range []string{"tailLines=-1", "limitBytes=0", "sinceSeconds=0", "sinceSeconds=5&sinceTime=" + now.Format(time.RFC3339)} {
		if _, err := podLogOptions(httptest.NewRequest("GET", "/containerLogs/ns/pod/c?"+bad, nil)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}

	// Follow: what is appended while it runs arrives; it ends once not running.
	var running atomic.Bool
	running.Store(true)
	opts, _ := podLogOptions(httptest.NewRequest("GET", "/c?follow=true&tailLines=0", nil))
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- readLogs(context.Background(), path, readOptions(opts, now), func(context.Context) bool { return running.Load() }, &out, &out)
	}()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	time.Sleep(200 * time.Millisecond)
	_, _ = f.WriteString(time.Now().UTC().Format(time.RFC3339Nano) + " stdout F appended\n")
	time.Sleep(200 * time.Millisecond)
	running.Store(false)
	select {
	case err := <-done:
		if err != nil || out.String() != "appended\n" {
			t.Errorf("follow: %q, %v; want the appended line", out.String(), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end 10 s after the container stopped")
	}
}

// The log goes out as kubelet writes it: flushed at each write (so chunked:
// the apiserver's websocket reader got nothing from a response with a length),
// and only the streams the query asks for.
func TestLogWritersAsKubelet(t *testing.T) {
	for _, tc := range []struct {
		stream         string
		stdout, stderr bool
	}{{"", true, true}, {"All", true, true}, {"Stdout", true, false}, {"Stderr", false, true}} {
		query := "stream=" + tc.stream
		if tc.stream == "" {
			query = "" // unset: All
		}
		opts, err := podLogOptions(httptest.NewRequest("GET", "/containerLogs/ns/pod/c?"+query, nil))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		stdout, stderr, err := logWriters(rec, opts.Stream)
		if err != nil || (stdout != nil) != tc.stdout || (stderr != nil) != tc.stderr {
			t.Errorf("stream=%s: stdout %v stderr %v (%v); want %v, %v", tc.stream, stdout != nil, stderr != nil, err, tc.stdout, tc.stderr)
			continue
		}
		w := stdout
		if w == nil {
			w = stderr
		}
		if _, err := w.Write([]byte("x")); err != nil || !rec.Flushed {
			t.Errorf("stream=%s: a write was not flushed (%v)", tc.stream, err)
		}
	}
	opts, _ := podLogOptions(httptest.NewRequest("GET", "/containerLogs/ns/pod/c?stream=Both", nil))
	if _, _, err := logWriters(httptest.NewRecorder(), opts.Stream); err == nil {
		t.Error("stream=Both: accepted")
	}
}
