//go:build samples

package migrate

// The packages the sample apps in testdata import, so that go mod tidy
// keeps them in this module's go.mod and go.sum: the tests lay each app
// out as a module with these requirements and build it without the
// network. The build tag keeps them out of every real build. ginsession
// itself is not among them: the tests take it from this repository, and a
// replace directive here would stop go run ...@latest from installing the
// command.
import (
	_ "github.com/gin-contrib/sessions"
	_ "github.com/gin-contrib/sessions/cookie"
	_ "github.com/gin-contrib/sessions/gorm"
	_ "github.com/gin-gonic/gin"
	_ "github.com/stretchr/testify/assert"
	_ "gorm.io/driver/sqlite"
	_ "gorm.io/gorm"
)
