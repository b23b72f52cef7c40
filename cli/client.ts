// `tunmail/client`: the client library, re-exported so imports written before
// the packages were split (`import { SinkClient } from "tunmail/client"`) keep
// working. New code can depend on @tunmail/client alone.
export * from "@tunmail/client";
