// Package childproc starts the server processes the test harnesses own
// (internal/redistest, internal/pgtest) so that they die with the test
// binary, however it exits: a failed test, a timeout's panic, a SIGKILL.
package childproc
