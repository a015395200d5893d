export default async function benchIcmp(): Promise<void> {
  console.log('icmp benchmark not written yet');
}
