// Command testserver is the small server fargo's tests and demos run in pods
// (image fargo/testserver, built by `make images`):
//
//	testserver serve [--port 8080] [--start-delay D] [--healthy-for D]
//	    HTTP on the port: / and /hostname (the pod's hostname), /env (its
//	    environment), /dns?name=N (a lookup), /echo (the request back), /remote
//	    (the client's address, as the server sees it), /healthz
//	    (200, or 500 once --healthy-for has passed since start); --start-delay
//	    waits before listening, for startup probes.
//	testserver api [PATH]
//	    GETs PATH (default /api/v1/namespaces/<own namespace>/pods) from the
//	    apiserver with the pod's service account, as in-cluster clients do, prints
//	    the status and the names of the items, and exits non-zero on failure.
//	testserver sleep D | exit N
//	    sleeps for D, or exits with status N at once.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "api":
		err = api(os.Args[2:])
	case "sleep":
		var d time.Duration
		if len(os.Args) > 2 {
			d, err = time.ParseDuration(os.Args[2])
		}
		time.Sleep(d)
	case "exit":
		code := 0
		if len(os.Args) > 2 {
			code, err = strconv.Atoi(os.Args[2])
		}
		if err == nil {
			os.Exit(code)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testserver serve [--port 8080] [--start-delay D] [--healthy-for D] | api [PATH] | sleep D | exit N")
	os.Exit(2)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	port := fs.Int("port", 8080, "port to listen on")
	startDelay := fs.Duration("start-delay", 0, "wait this long before listening")
	healthyFor := fs.Duration("healthy-for", 0, "after this long /healthz answers 500 (0: always healthy)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	time.Sleep(*startDelay)
	mux := http.NewServeMux()
	hostname := func(w http.ResponseWriter, _ *http.Request) {
		h, _ := os.Hostname()
		fmt.Fprintln(w, h)
	}
	mux.HandleFunc("/{$}", hostname)
	mux.HandleFunc("/hostname", hostname)
	mux.HandleFunc("/remote", func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintln(w, host)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		env := os.Environ()
		sort.Strings(env)
		fmt.Fprintln(w, strings.Join(env, "\n"))
	})
	mux.HandleFunc("/dns", func(w http.ResponseWriter, r *http.Request) {
		addrs, err := net.DefaultResolver.LookupHost(r.Context(), r.URL.Query().Get("name"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, strings.Join(addrs, "\n"))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", r.Method, r.URL.RequestURI())
		_ = r.Header.Write(w)
		fmt.Fprintln(w)
		_, _ = io.Copy(w, r.Body)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if *healthyFor > 0 && time.Since(start) > *healthyFor {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	fmt.Printf("serving on :%d\n", *port)
	return http.ListenAndServe(":"+strconv.Itoa(*port), mux)
}

func api(args []string) error {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	path := ""
	if len(args) > 0 {
		path = args[0]
	} else {
		ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return err
		}
		path = "/api/v1/namespaces/" + strings.TrimSpace(string(ns)) + "/pods"
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+path, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"items"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: %s: %s", cfg.Host, path, resp.Status, body)
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("GET %s%s: %w", cfg.Host, path, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, it := range list.Items {
		names = append(names, it.Metadata.Name)
	}
	fmt.Printf("GET %s%s: %s: %s\n", cfg.Host, path, resp.Status, strings.Join(names, " "))
	return nil
}
