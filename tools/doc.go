// Package tools holds the repository's release tooling. It is a module of
// its own, never published and outside go.work, so that its dependencies
// (golang.org/x/mod) never enter the SDK's module graph or a user's build;
// its tests run with GOWORK=off.
package tools
