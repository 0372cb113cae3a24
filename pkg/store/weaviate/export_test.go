package weaviate

// ChunkID and TenantName are the tests' way to a chunk's object id.
var (
	ChunkID    = chunkID
	TenantName = tenantName
)
