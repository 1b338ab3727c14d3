package controlplane

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdQuota bounds etcd's database: plenty for one cluster, and a bound on disk use.
const etcdQuota = 2 << 30

// etcdStartTimeout bounds how long a start waits for the embedded etcd to serve.
const etcdStartTimeout = 60 * time.Second

// embeddedEtcd is a single-member etcd run in-process, listening on loopback only,
// over TLS with client certificates: without them any local user could read every
// Secret or write any object.
type embeddedEtcd struct {
	etcd      *embed.Etcd
	clientURL string
}

func startEmbeddedEtcd(c *Config, cs *certs) (*embeddedEtcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "fargo"
	cfg.Dir = c.etcdDir()
	client := url.URL{Scheme: "https", Host: "127.0.0.1:" + strconv.Itoa(c.EtcdClientPort)}
	peer := url.URL{Scheme: "https", Host: "127.0.0.1:" + strconv.Itoa(c.EtcdPeerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.ClientTLSInfo = etcdTLS(cs.EtcdServer, cs.EtcdCA)
	cfg.PeerTLSInfo = etcdTLS(cs.EtcdPeer, cs.EtcdCA)
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogOutputs = []string{filepath.Join(c.LogDir, "etcd.log")}
	lg, err := etcdLogger(cfg.LogOutputs[0])
	if err != nil {
		return nil, err
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	// Metrics are served by the apiserver side; keep etcd quiet and lean.
	cfg.Metrics = "basic"
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	cfg.QuotaBackendBytes = etcdQuota

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w (see %s)", cfg.Dir, err, cfg.LogOutputs[0])
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w (see %s)", err, cfg.LogOutputs[0])
	case <-time.After(etcdStartTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd not ready after %s (see %s)", etcdStartTimeout, cfg.LogOutputs[0])
	}
	return &embeddedEtcd{etcd: e, clientURL: client.String()}, nil
}

func (e *embeddedEtcd) Close() { e.etcd.Close() }

// Raised reports a NOSPACE alarm not raised by etcd for its own quota.
func (e *embeddedEtcd) Raised() bool {
	for _, a := range e.etcd.Server.Alarms() {
		if a.Alarm == pb.AlarmType_NOSPACE {
			return e.etcd.Server.Backend().Size() < etcdQuota
		}
	}
	return false
}

func (e *embeddedEtcd) Raise(ctx context.Context) error {
	return e.alarm(ctx, pb.AlarmRequest_ACTIVATE)
}

func (e *embeddedEtcd) Clear(ctx context.Context) error {
	return e.alarm(ctx, pb.AlarmRequest_DEACTIVATE)
}

func (e *embeddedEtcd) alarm(ctx context.Context, action pb.AlarmRequest_AlarmAction) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := e.etcd.Server.Alarm(ctx, &pb.AlarmRequest{Action: action, MemberID: uint64(e.etcd.Server.MemberID()), Alarm: pb.AlarmType_NOSPACE})
	return err
}

// etcdLogger logs to file, and puts etcd's last words on fargo's standard error
// too: etcd ends the process on a fatal error (a write to its WAL failing, say), and
// the user should see why on the terminal, not only in the file.
func etcdLogger(file string) (*zap.Logger, error) {
	zc := logutil.DefaultZapLoggerConfig
	zc.OutputPaths, zc.ErrorOutputPaths = []string{file}, []string{file}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.CallerKey, enc.StacktraceKey, enc.NameKey = "", "", "", ""
	enc.EncodeLevel = func(l zapcore.Level, pae zapcore.PrimitiveArrayEncoder) { pae.AppendString("etcd " + l.String() + ":") }
	terminal := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), zapcore.DPanicLevel)
	lg, err := zc.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, terminal) }))
	if err != nil {
		return nil, fmt.Errorf("opening etcd's log %s: %w", file, err)
	}
	return lg, nil
}

// etcdTLS serves with kp and accepts only clients with a certificate signed by ca.
func etcdTLS(kp, ca *keyPair) transport.TLSInfo {
	return transport.TLSInfo{CertFile: kp.CertFile, KeyFile: kp.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
}
