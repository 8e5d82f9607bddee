// Package archtest holds the import rules between the layers, as a test:
// the domain runs on the standard library, the HTTP layer and the
// application services never reach into the adapters, and only the Redis
// adapter knows Redis (see TestImportRules).
package archtest
