// Package runtime runs the server's child processes through one contract,
// in the spirit of Nomad's task drivers (plugins/drivers/driver.go): kdb+
// cluster nodes (internal/kx/node) and the embedded S3 gateway process
// (internal/s3gw) are both started, watched and stopped through a Driver.
//
// # The contract
//
// A Driver starts a process from a Spec and returns its Handle: the small,
// serializable record (driver, id, pid, process start time, boot id,
// metadata such as a port) that is persisted with the resource it serves.
// Everything else is asked of the driver with that handle:
//
//   - Start(ctx, spec) → Handle: the process runs; ctx bounds the start
//     only, never the process's life (unlike exec.CommandContext).
//   - Recover(ctx, handle): after our own restart, adopt the process the
//     handle names, or say it cannot be: ErrGone (it has exited, or the
//     machine rebooted) or ErrNotOurs (its pid now names another process:
//     the start time recorded in the handle differs). A reused pid is never
//     adopted, so nothing is ever signalled on a stale handle.
//   - Wait(ctx, handle) → Exit: blocks until the process has ended.
//   - Stop(handle, grace): SIGTERM to the process group, SIGKILL after
//     grace (at once when grace ≤ 0); it returns once the process is gone.
//   - Inspect(handle) → Status: state, pid, start time, exit.
//   - Destroy(handle): stop if running, and free what the driver holds.
//   - Tail(handle, n): the last n lines of the process's log.
//
// Local is the driver for processes on this machine: each in its own
// process group (a stop reaches what it starts), optionally killed with
// the server (Linux parent-death signal, started from a dedicated locked
// OS thread, see Local), a minimal environment by default (DefaultEnv:
// no credential of the server's reaches the child), a working directory,
// inherited descriptors (Spec.ExtraFiles), and its output in a bounded,
// rotated log file (Spec.Log, see Logs).
//
// Supervisor keeps one process running on any Driver: readiness hook,
// restart with doubling backoff (reset once a process stayed up a while),
// events at each start and exit. Restart policy that is not "always" (the
// S3 gateway restarts lazily, on the next request that needs it) is the
// caller's: it uses the Driver directly.
//
// # A Kubernetes driver
//
// The contract is written so that a driver running each process as a pod
// fits behind it without changing its users:
//
//   - Start creates a pod per node from the Spec (image and command from
//     Path and Args, Env, a working directory; Meta as labels) and returns
//     a Handle with Driver "kubernetes", ID the pod's UID and Meta holding
//     the namespace and pod name. Parent-death has no meaning there: the
//     pod's owner reference (the server's Deployment or a per-cluster
//     object) plays that part; ExtraFiles cannot cross to a pod, so a user
//     needing them (the S3 gateway) stays on Local.
//   - Recover gets the pod by name and compares its UID with the handle's:
//     no pod is ErrGone, another UID (a pod re-created under the same name)
//     is ErrNotOurs — the same rule as pid and start time here.
//   - Wait watches the pod until its phase is Succeeded or Failed (the
//     container's terminated state gives Exit's code or signal); Inspect
//     reads the pod's status.
//   - Stop deletes the pod with gracePeriodSeconds = grace (the kubelet
//     sends SIGTERM, then SIGKILL after the grace), and waits until it is
//     gone.
//   - Tail reads the pod's log through the API (tailLines=n); the kubelet
//     rotates container logs, which is what Spec.Log does here.
//   - Readiness stays the Supervisor's hook (the kdb+ handshake on the
//     pod's IP and port) rather than a readiness probe, so both drivers
//     report "up" by the same test.
package runtime
