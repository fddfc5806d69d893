package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/server"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// acked records what the server acknowledged before it was killed.
type acked struct {
	mu      sync.Mutex
	envs    []string
	tags    map[string]int // tag key → the write number acknowledged last (its value)
	users   []string
	objects map[string][32]byte // key → SHA-256 of the body
}

// TestKillDuringWrites (part of the hostile-client suite, with
// tests/hostile): writers create environments, tag, create FinSpace users
// and upload objects concurrently while the server is SIGKILLed; after a
// restart on the same data dir every acknowledged resource and object is
// there, byte for byte, and the credentials issued before still work.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dataDir := t.TempDir()
	ctx := context.Background()
	first := startChild(t, dataDir)
	fs := clientFor(t, first.url, dataDir)
	base, err := fs.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("base")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, fs, *base.EnvironmentId, types.EnvironmentStatusCreated)
	baseARN := "arn:aws:finspace:us-east-1:000000000000:environment/" + *base.EnvironmentId
	rc, err := server.LoadOrCreateRootCredentials(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	rootCreds := credentials.NewStaticCredentialsProvider(rc.AccessKeyID, rc.SecretAccessKey, "")
	out, err := fd.New(first.url, "us-east-1", rootCreds).GetProgrammaticAccessCredentials(ctx,
		&finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: base.EnvironmentId, DurationInMinutes: aws.Int64(60)})
	if err != nil {
		t.Fatal(err)
	}
	superCreds := credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
	s3For := func(url string) *s3.Client {
		return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true, RetryMaxAttempts: 1, Credentials: rootCreds})
	}
	if _, err := s3For(first.url).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("crash")}); err != nil {
		t.Fatal(err)
	}

	a := &acked{tags: map[string]int{}, objects: map[string][32]byte{}}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	writer := func(step func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				if err := step(i); err != nil {
					return // the server is gone
				}
			}
		}()
	}
	data := fd.New(first.url, "us-east-1", superCreds)
	objects := s3For(first.url)
	for w := range 2 {
		writer(func(i int) error {
			out, err := fs.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String(fmt.Sprintf("e%d-%d", w, i))})
			if err == nil {
				a.mu.Lock()
				a.envs = append(a.envs, *out.EnvironmentId)
				a.mu.Unlock()
			}
			return err
		})
		writer(func(i int) error {
			k := fmt.Sprintf("k%d-%d", w, i%40)
			_, err := fs.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: &baseARN, Tags: map[string]string{k: strconv.Itoa(i)}})
			if err == nil {
				a.mu.Lock()
				a.tags[k] = i
				a.mu.Unlock()
			}
			return err
		})
		writer(func(i int) error {
			out, err := data.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: aws.String(fmt.Sprintf("u%d-%d@example.com", w, i)),
				Type: ptr(finspacedata.UserTypeAppUser)})
			if err == nil {
				a.mu.Lock()
				a.users = append(a.users, *out.UserId)
				a.mu.Unlock()
			}
			return err
		})
		writer(func(i int) error {
			body := make([]byte, 1+(i*7919)%(256<<10))
			_, _ = rand.Read(body)
			key := fmt.Sprintf("w%d/%d.bin", w, i)
			_, err := objects.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: &key, Body: bytes.NewReader(body)})
			if err == nil {
				a.mu.Lock()
				a.objects[key] = sha256.Sum256(body)
				a.mu.Unlock()
			}
			return err
		})
	}
	time.Sleep(1500 * time.Millisecond)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	stop()
	wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	t.Logf("acknowledged before the kill: %d environments, %d tags, %d users, %d objects", len(a.envs), len(a.tags), len(a.users), len(a.objects))
	if len(a.envs) == 0 || len(a.tags) == 0 || len(a.users) == 0 || len(a.objects) == 0 {
		t.Fatalf("a writer acknowledged nothing before the kill: %d %d %d %d", len(a.envs), len(a.tags), len(a.users), len(a.objects))
	}

	second := startChild(t, dataDir)
	fs = clientFor(t, second.url, dataDir)
	for _, id := range a.envs {
		waitFor(t, fs, id, types.EnvironmentStatusCreated)
	}
	tags, err := fs.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &baseARN})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range a.tags {
		// A later TagResource of the same key may have been applied and
		// not acknowledged: the value is the acknowledged one or later.
		got, err := strconv.Atoi(tags.Tags[k])
		if err != nil || got < v {
			t.Errorf("tag %s = %q after restart, acknowledged %d", k, tags.Tags[k], v)
		}
	}
	// The superuser's credentials issued before the kill still work.
	data = fd.New(second.url, "us-east-1", superCreds)
	for _, id := range a.users {
		if _, err := data.GetUser(ctx, &finspacedata.GetUserRequest{UserId: &id}); err != nil {
			t.Errorf("acknowledged user %s after restart: %v", id, err)
		}
	}
	objects = s3For(second.url)
	for key, sum := range a.objects {
		got, err := objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: &key})
		if err != nil {
			t.Errorf("acknowledged object %s after restart: %v", key, err)
			continue
		}
		b, err := io.ReadAll(got.Body)
		got.Body.Close()
		if err != nil || sha256.Sum256(b) != sum {
			t.Errorf("acknowledged object %s after restart: %d bytes, body differs (%v)", key, len(b), err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
