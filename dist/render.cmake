# Renders a template at install time, for the prefix actually installed to
# (cmake --install --prefix P), not the one configured. Called through
# pushgate_install_rendered() (dist/CMakeLists.txt) with:
#   TEMPLATE      the .in file
#   DESTINATION   the output file, absolute (under the install prefix)
#   PLACEHOLDERS  NAME=VALUE pairs; each @NAME@ becomes VALUE, nothing else changes
# Text that merely looks like a placeholder (a comment mentioning @NAME@) stays.
file(READ "${TEMPLATE}" text)
foreach(pair IN LISTS PLACEHOLDERS)
  string(FIND "${pair}" "=" at)
  string(SUBSTRING "${pair}" 0 ${at} name)
  math(EXPR value_at "${at} + 1")
  string(SUBSTRING "${pair}" ${value_at} -1 value)
  string(REPLACE "@${name}@" "${value}" text "${text}")
endforeach()
set(output "$ENV{DESTDIR}${DESTINATION}")
get_filename_component(dir "${output}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
file(WRITE "${output}" "${text}")
message(STATUS "Installing (rendered): ${output}")
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${DESTINATION}")
