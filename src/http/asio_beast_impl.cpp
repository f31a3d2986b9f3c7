// The compiled parts of Boost.Asio and Boost.Beast, built once for the whole program. Every
// other file sees BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION (public
// definitions of nbo_core) and so only declares what is defined here.

#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
