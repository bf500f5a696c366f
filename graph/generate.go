package graph

//go:generate go -C .. run github.com/99designs/gqlgen generate
