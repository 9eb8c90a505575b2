export default { fetch( { return new Response("never") } };
