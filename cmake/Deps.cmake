# Zydis and lwIP from Debian source packages. Owner: infrastructure.
