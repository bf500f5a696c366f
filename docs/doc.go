// Package docs holds the user guide; its test checks the guide's links.
package docs
