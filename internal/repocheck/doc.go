// Package repocheck holds the repository's checks of itself: the layout
// limits of its code and the honesty of its documents. It has no code of
// its own; its tests read the whole tree, so they live apart from the
// SDK's, whose test results then stay cached across git commands.
package repocheck
