# Install layout (FHS) and the Debian package (cpack -G DEB).
#   cmake --install build/release          -> /usr/sbin/meridian-{edge,dns}, /etc/meridian/{edge,dns}.toml,
#                                             /lib/systemd/system/meridian-{edge,dns}.service, docs and examples in
#                                             /usr/share/doc/meridian, man pages in /usr/share/man
#   cd build/release && cpack -G DEB         -> meridian_<version>_<arch>.deb (run ./run package)
# The prefix defaults to /usr, as for a distribution package; configure with -DCMAKE_INSTALL_PREFIX=/usr/local for
# a local install (config then in /usr/local/etc/meridian).
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX /usr CACHE PATH "Install prefix" FORCE)
endif()
include(GNUInstallDirs)
# Installing copies what is built; it never builds the tests first (cpack runs on an already built tree).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(MERIDIAN_CONFDIR "" CACHE PATH "Where the daemons' configs go (empty: <sysconfdir>/meridian, /etc/meridian)")
set(MERIDIAN_SYSTEMD_UNITDIR "" CACHE PATH "Where the systemd units go (empty: /lib/systemd/system under /usr)")
set(_confdir "${MERIDIAN_CONFDIR}")
if(NOT _confdir)
  set(_confdir "${CMAKE_INSTALL_FULL_SYSCONFDIR}/meridian")
endif()
set(_unitdir "${MERIDIAN_SYSTEMD_UNITDIR}")
if(NOT _unitdir AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_unitdir /lib/systemd/system)
elseif(NOT _unitdir)
  set(_unitdir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()

install(TARGETS meridian-edge meridian-dns RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES dist/etc/edge.toml dist/etc/dns.toml DESTINATION ${_confdir})
install(FILES conf/examples/zones/example.test.zone DESTINATION ${_confdir}/zones)
install(FILES dist/logrotate/meridian DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d)
install(FILES dist/systemd/meridian-edge.service dist/systemd/meridian-dns.service
        DESTINATION ${_unitdir})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES conf/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME conf-README.md)
install(DIRECTORY conf/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# Man pages, generated from conf/README.md at build time so they cannot drift from it.
find_program(MERIDIAN_PYTHON3 python3 REQUIRED)
set(_man_pages ${PROJECT_BINARY_DIR}/man/meridian-edge.8 ${PROJECT_BINARY_DIR}/man/meridian-dns.8
               ${PROJECT_BINARY_DIR}/man/meridian.toml.5)
add_custom_command(
  OUTPUT ${_man_pages}
  COMMAND ${MERIDIAN_PYTHON3} ${PROJECT_SOURCE_DIR}/dist/man/make_man.py ${PROJECT_SOURCE_DIR}/conf/README.md
          ${PROJECT_VERSION} ${PROJECT_BINARY_DIR}/man
  DEPENDS ${PROJECT_SOURCE_DIR}/dist/man/make_man.py ${PROJECT_SOURCE_DIR}/conf/README.md
  COMMENT "Man pages from conf/README.md")
add_custom_target(man_pages ALL DEPENDS ${_man_pages})
install(FILES ${PROJECT_BINARY_DIR}/man/meridian-edge.8 ${PROJECT_BINARY_DIR}/man/meridian-dns.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_BINARY_DIR}/man/meridian.toml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)

# The Debian package. Library dependencies come from dpkg-shlibdeps (dpkg-dev), so they match what the binaries
# link; adduser is for the postinst's system user.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME meridian)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Meridian maintainers <meridian@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted CDN: caching HTTP edge and authoritative geo DNS")
set(CPACK_PACKAGE_DESCRIPTION "Meridian serves the static build of a website from edges that cache it in memory\n\
(meridian-edge, a caching HTTP reverse proxy) and sends each client to its nearest healthy edge\n\
(meridian-dns, an authoritative DNS server with EDNS Client Subnet geo steering).")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles
     "${_confdir}/edge.toml\n${_confdir}/dns.toml\n${_confdir}/zones/example.test.zone\n"
     "${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d/meridian\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/dist/debian/postinst ${PROJECT_SOURCE_DIR}/dist/debian/prerm
                                       ${PROJECT_SOURCE_DIR}/dist/debian/postrm ${PROJECT_BINARY_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
